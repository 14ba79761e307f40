# Reference values for the likelihood ratios and diagnostic odds ratio of
# radval.stats.threshold_metrics from epiR::epi.tests.
#
# Run from the repository root:  Rscript tests/reference/epitests_lr.R
# Writes tests/reference/epitests_lr.json.  CI never runs R.
#
# epi.tests(as.table(matrix(c(TP, FN, FP, TN), 2, 2)), method = "exact", conf.level)
# rows lr.pos, lr.neg, diag.or of $detail (est, lower, upper).  The ratios and their
# log-scale Wald limits do not depend on 'method'.  Tables with zero cells show the
# IEEE results epiR returns (0, Inf, NaN).
suppressPackageStartupMessages({
  library(epiR)
  library(jsonlite)
})
tables <- list(
  s100b_0205 = c(tp = 26, fp = 14, tn = 58, fn = 15),
  balanced = c(tp = 40, fp = 10, tn = 90, fn = 12),
  small = c(tp = 3, fp = 2, tn = 7, fn = 1),
  zero_fp = c(tp = 20, fp = 0, tn = 30, fn = 5),
  zero_tp = c(tp = 0, fp = 8, tn = 30, fn = 12),
  zero_fn = c(tp = 15, fp = 6, tn = 20, fn = 0),
  zero_tn = c(tp = 15, fp = 6, tn = 0, fn = 3)
)
cases <- list()
for (nm in names(tables)) {
  t <- tables[[nm]]
  for (conf in c(0.95, 0.9)) {
    tab <- as.table(matrix(c(t[["tp"]], t[["fn"]], t[["fp"]], t[["tn"]]), 2, 2))
    d <- suppressWarnings(epi.tests(tab, method = "exact", conf.level = conf)$detail)
    get <- function(s) {
      r <- d[d$statistic == s, ]
      v <- c(r$est, r$lower, r$upper)
      lapply(v, function(x) if (is.nan(x)) "NaN" else if (is.infinite(x)) (if (x > 0) "Inf" else "-Inf") else x)
    }
    cases[[length(cases) + 1]] <- list(name = nm, conf = conf, tp = t[["tp"]], fp = t[["fp"]],
                                       tn = t[["tn"]], fn = t[["fn"]],
                                       lr_positive = get("lr.pos"),
                                       lr_negative = get("lr.neg"), dor = get("diag.or"))
  }
}
write_json(list(R_version = R.version.string, epiR_version = as.character(packageVersion("epiR")),
                cases = cases), "tests/reference/epitests_lr.json", digits = NA,
           auto_unbox = TRUE)
