# Reference for radval.models.evaluation.heterogeneity_test: fixed-effect Cochran Q of
# subgroup AUCs with DeLong variances (metafor::rma(method = "FE")), AUC/variance from pROC.
# Run: Rscript tests/reference/heterogeneity.R  (writes heterogeneity.json)
suppressPackageStartupMessages({library(jsonlite); library(metafor); library(pROC)})
set.seed(7)
mk <- function(n, shift) {
  y <- rbinom(n, 1, 0.35)
  s <- round(rnorm(n, mean = shift * y), 4)
  list(y = y, s = s)
}
groups <- list(mk(60, 1.2), mk(45, 0.4), mk(70, 0.9))
aucs <- c(); vars <- c()
for (g in groups) {
  r <- roc(g$y, g$s, direction = "<", levels = c(0, 1), quiet = TRUE)
  aucs <- c(aucs, as.numeric(auc(r)))
  vars <- c(vars, var(r, method = "delong"))
}
fe3 <- rma(yi = aucs, vi = vars, method = "FE")
fe2 <- rma(yi = aucs[1:2], vi = vars[1:2], method = "FE")
out <- list(
  R_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
  pROC_version = as.character(packageVersion("pROC")),
  groups = lapply(groups, function(g) list(y = g$y, s = g$s)),
  aucs = aucs, variances = vars,
  q3 = fe3$QE, p3 = fe3$QEp, pooled3 = as.numeric(fe3$beta),
  q2 = fe2$QE, p2 = fe2$QEp, pooled2 = as.numeric(fe2$beta)
)
write_json(out, "heterogeneity.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
