# Reference values for tests/workflow/test_reference_mi_combat.py (R 4.2.2, Debian).
#   Rscript tests/reference/workflow_mi_combat.R   (from the repository root)
# Inputs (written by tests/reference/workflow_mi_combat_inputs.py):
#   workflow_mi_completed.csv   the completed development data sets of the workflow's
#                               multiple imputation (imputation, y, nomogram design)
#   workflow_mi_combat_study.csv  raw features, batch (scanner) of every patient
# 1. glm(binomial) on each completed data set, pooled by mice::pool (Rubin's rules,
#    Barnard-Rubin df with dfcom = df.residual);
# 2. sva::ComBat(ref.batch = "A") on all patients (development batches A, B and the
#    external batch C).
suppressPackageStartupMessages({library(mice); library(sva); library(jsonlite)})
here <- "tests/reference"
comp <- read.csv(file.path(here, "workflow_mi_completed.csv"), check.names = FALSE)
terms <- setdiff(names(comp), c("imputation", "y"))
fits <- lapply(split(comp, comp$imputation), function(d) {
  x <- as.matrix(d[, terms])
  colnames(x) <- paste0("x", seq_along(terms))
  glm(d$y ~ x, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
})
pooled <- pool(as.mira(fits))
s <- summary(pooled, conf.int = TRUE)
p <- pooled$pooled
pool_out <- data.frame(term = as.character(p$term), estimate = p$estimate, ubar = p$ubar,
                       b = p$b, t = p$t, dfcom = p$dfcom, df = p$df, riv = p$riv,
                       lambda = p$lambda, fmi = p$fmi, std.error = s$std.error,
                       statistic = s$statistic, p.value = s$p.value,
                       conf.low = s[["2.5 %"]], conf.high = s[["97.5 %"]])

tab <- read.csv(file.path(here, "workflow_mi_combat_study.csv"), check.names = FALSE)
feat <- grep("^radiomics_", names(tab), value = TRUE)
dat <- t(as.matrix(tab[, feat]))
adj <- ComBat(dat = dat, batch = tab$scanner, mod = NULL, par.prior = TRUE,
              ref.batch = "A")
out <- list(
  versions = list(R = R.version.string, mice = as.character(packageVersion("mice")),
                  sva = as.character(packageVersion("sva"))),
  pool = pool_out,
  fits = lapply(fits, function(f) list(coef = unname(coef(f)), vcov = unname(vcov(f)),
                                       n = nobs(f))),
  combat_patient_id = tab$patient_id,
  combat = unname(t(adj))
)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE),
      file.path(here, "workflow_mi_combat.json"))
