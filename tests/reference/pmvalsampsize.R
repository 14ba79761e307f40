# Reference values for radval.stats.external_validation_sample_size from the R package
# pmvalsampsize 0.1.0 (Ensor; Riley et al. 2021, Stat Med 40:4230).
#
# pmvalsampsize is not in Debian and CRAN is not reachable here, so this script sources
# the package's R files from a checkout of cran/pmvalsampsize (version 0.1.0):
#   Rscript tests/reference/pmvalsampsize.R /path/to/pmvalsampsize
# (the folder that holds DESCRIPTION and R/).  Writes tests/reference/pmvalsampsize.json.
# Criterion 2 (calibration slope) and the threshold-implied sensitivity/specificity are
# simulated by pmvalsampsize (simobs = 1e6, seed 123456 unless given); the O/E and net
# benefit SEs come from grid searches.  The package's own test values (tests/testthat/
# test_bin.R, simobs = 1000/10000) are the worked examples of Riley et al. 2021.
# lpcstat moves the non-event mean in steps of 0.1 until the simulated prevalence is
# within 0.0005 of the target and never stops if no step lands that close: the start
# -2.47 is next to the solution (-2.4722 for prevalence 0.1, C 0.7).
suppressPackageStartupMessages({
  library(jsonlite)
  library(pROC)
})
args <- commandArgs(trailingOnly = TRUE)
stopifnot(length(args) == 1)
root <- args[1]
for (f in c("pmvalsampsize.R", "pmvalsampsize_bin.R", "pmvalsampsize_errorcheck.R")) {
  source(file.path(root, "R", f))
}
version <- read.dcf(file.path(root, "DESCRIPTION"))[, "Version"]

run <- function(name, ...) {
  args <- list(...)
  r <- suppressMessages(do.call(pmvalsampsize, c(list(type = "b"), args)))
  tab <- r$results_table
  args <- lapply(args, function(x) if (length(x) > 1) as.list(x) else x)
  list(name = name, args = args, sample_size = unname(tab[, 1]), criteria = rownames(tab),
       n_final = r$sample_size, se_oe = r$se_oe, se_cslope = r$se_cslope,
       se_cstat = r$se_cstat,
       sensitivity = if (is.null(r$sensitivity)) NULL else r$sensitivity,
       specificity = if (is.null(r$specificity)) NULL else r$specificity,
       standardised_nb = if (is.null(r$standardised_nb)) NULL else r$standardised_nb)
}
cases <- list(
  run("riley2021_normal", prevalence = 0.018, cstatistic = 0.8, lpnormal = c(-5, 2.5),
      oeciwidth = 1),
  run("riley2021_beta", prevalence = 0.018, cstatistic = 0.8, lpbeta = c(0.5, 0.5),
      oeciwidth = 1),
  run("normal_sens_spec", prevalence = 0.2, cstatistic = 0.75, lpnormal = c(-1.6, 1.1),
      threshold = 0.15, sensitivity = 0.8, specificity = 0.6),
  run("normal_threshold", prevalence = 0.2, cstatistic = 0.75, lpnormal = c(-1.6, 1.1),
      threshold = 0.15),
  run("beta_widths", prevalence = 0.2, cstatistic = 0.72, lpbeta = c(2, 8),
      cstatciwidth = 0.08, oeciwidth = 0.3, csciwidth = 0.3),
  run("beta_threshold", prevalence = 0.1, cstatistic = 0.8, lpbeta = c(1, 9),
      threshold = 0.1, nbciwidth = 0.3),
  run("cstat_lp", prevalence = 0.1, cstatistic = 0.7, lpcstat = -2.47, seed = 1234)
)
write_json(list(R_version = R.version.string, pmvalsampsize_version = unname(version),
                cases = cases), "tests/reference/pmvalsampsize.json", digits = NA,
           auto_unbox = TRUE, null = "null")
