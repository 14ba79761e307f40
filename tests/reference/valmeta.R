# Reference values for radval.pool.published_auc / published_oe (published validations
# as meta-analysis inputs) from metamisc's own ccalc() and oecalc(), the functions that
# valmeta() uses to rebuild missing estimates and standard errors.
#
# metamisc is not in Debian and CRAN is not reachable here, so this script sources the
# package's R files from a checkout of cran/metamisc (version 0.4.0 was used):
#   Rscript tests/reference/valmeta.R /path/to/metamisc
# (the folder that holds DESCRIPTION and R/).  Writes tests/reference/valmeta.json.
# valmeta's defaults: c-statistic on the logit scale, g = "log(cstat/(1-cstat))",
# approx.se.method = 4 (Newcombe's method 4 of the Hanley-McNeil variance); O:E ratio
# on the log scale, g = "log(OE)", continuity correction add = 1/2 when E = 0.
suppressPackageStartupMessages(library(jsonlite))
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 1)
root <- args[1]
for (f in c("basics.r", "valmeta_utils.r", "ccalc.r", "oecalc.R")) {
  source(file.path(root, "R", f))
}
version <- read.dcf(file.path(root, "DESCRIPTION"))[, "Version"]

auc <- data.frame(
  study = c("se_only", "ci_only", "ci_90", "n_events", "se_and_ci", "ci_and_n", "n_small"),
  cstat = c(0.78, 0.71, 0.83, 0.69, 0.75, 0.80, 0.91),
  se = c(0.035, NA, NA, NA, 0.03, NA, NA),
  cilb = c(NA, 0.64, 0.79, NA, 0.69, 0.74, NA),
  ciub = c(NA, 0.78, 0.87, NA, 0.81, 0.86, NA),
  cilv = c(0.95, 0.95, 0.90, 0.95, 0.95, 0.95, 0.95),
  N = c(NA, NA, NA, 412, NA, 250, 60),
  O = c(NA, NA, NA, 97, NA, 40, 9)
)
cc <- ccalc(cstat = auc$cstat, cstat.se = auc$se, cstat.cilb = auc$cilb,
            cstat.ciub = auc$ciub, cstat.cilv = auc$cilv, N = auc$N, O = auc$O,
            slab = auc$study, g = "log(cstat/(1-cstat))")
cc_m2 <- ccalc(cstat = auc$cstat, N = auc$N, O = auc$O, slab = auc$study,
               g = "log(cstat/(1-cstat))", approx.se.method = 2)

oe <- data.frame(
  study = c("oe_se", "oe_ci", "oe_ci_90", "o_e_n", "o_e", "oe_se_and_o_e_n", "e_zero"),
  OE = c(0.92, 1.15, 0.78, NA, NA, 1.05, NA),
  se = c(0.08, NA, NA, NA, NA, 0.2, NA),
  cilb = c(NA, 0.95, 0.66, NA, NA, NA, NA),
  ciub = c(NA, 1.38, 0.91, NA, NA, NA, NA),
  cilv = c(0.95, 0.95, 0.90, 0.95, 0.95, 0.95, 0.95),
  O = c(NA, NA, NA, 57, 31, 40, 3),
  E = c(NA, NA, NA, 61.4, 25.2, 38, 0),
  N = c(NA, NA, NA, 500, NA, 300, 80)
)
oc <- oecalc(OE = oe$OE, OE.se = oe$se, OE.cilb = oe$cilb, OE.ciub = oe$ciub,
             OE.cilv = oe$cilv, O = oe$O, E = oe$E, N = oe$N, slab = oe$study,
             g = "log(OE)")

nz <- function(x) ifelse(is.na(x), NA, x)
out <- list(
  R_version = R.version.string, metamisc_version = unname(version),
  auc_input = auc, oe_input = oe,
  auc = list(theta = unname(cc$theta), theta_se = unname(cc$theta.se),
             source = as.character(cc$theta.se.source)),
  auc_method2 = list(theta = unname(cc_m2$theta), theta_se = unname(cc_m2$theta.se)),
  oe = list(theta = unname(oc$theta), theta_se = unname(oc$theta.se),
            source = as.character(oc$theta.source))
)
write_json(out, "tests/reference/valmeta.json", digits = NA, auto_unbox = TRUE, na = "null",
           dataframe = "columns")
