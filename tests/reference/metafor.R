# Reference values for radval.pool.meta_analysis from R's metafor.
#
# Run from the repository root:  Rscript tests/reference/metafor.R
# Writes tests/reference/metafor.json.  CI never runs R; tests read the JSON.
#
# For each data set (yi, vi on the analysis scale) and each setting
# method in {REML, DL} x test in {z, knha}:
#   rma(yi, vi, method = m, test = t, control = list(threshold = 1e-12)) + predict()
# REML is solved to convergence (threshold 1e-12 on the change in tau^2;
# metafor's default 1e-5 leaves tau^2 visibly off).
# Riley et al. (2011, BMJ 342:d549) prediction interval:
#   b +/- qt(1 - alpha/2, k - 2) * sqrt(tau2 + se^2), for k >= 3, with the se of the fit.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)

datasets <- list(
  bcg_rr = list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi)),
  k2 = list(yi = c(0.2, 0.9), vi = c(0.04, 0.09)),
  k3_homogeneous = list(yi = c(0.50, 0.52, 0.49), vi = c(0.10, 0.12, 0.08)),
  k4_logit_auc = list(yi = qlogis(c(0.78, 0.71, 0.83, 0.69)),
                      vi = (c(0.035, 0.042, 0.030, 0.051) / (c(0.78, 0.71, 0.83, 0.69) *
                            (1 - c(0.78, 0.71, 0.83, 0.69))))^2),
  k5 = list(yi = c(-0.31, 0.12, 0.45, -0.05, 0.88), vi = c(0.05, 0.11, 0.07, 0.20, 0.09)),
  k6_log_oe = list(yi = log(c(0.92, 1.15, 0.78, 1.31, 1.02, 0.88)),
                   vi = c(0.012, 0.020, 0.015, 0.031, 0.009, 0.018)),
  k10 = list(yi = c(1.2, 0.4, 0.9, 1.7, 0.2, 1.1, 0.65, 1.45, 0.05, 0.95),
             vi = c(0.21, 0.08, 0.15, 0.30, 0.05, 0.12, 0.09, 0.25, 0.07, 0.11))
)

results <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (m in c("REML", "DL")) {
    for (t in c("z", "knha")) {
      r <- rma(d$yi, d$vi, method = m, test = t, control = list(threshold = 1e-12,
                                                                   maxiter = 10000))
      p <- predict(r)
      k <- r$k
      rec <- list(
        dataset = nm, method = m, test = t, k = k,
        yi = d$yi, vi = d$vi,
        pooled = as.numeric(r$b), se = r$se, ci_low = r$ci.lb, ci_high = r$ci.ub,
        zval = r$zval, pval = r$pval,
        pi_low = p$pi.lb, pi_high = p$pi.ub,
        tau2 = r$tau2, i2 = r$I2, h2 = r$H2, q = r$QE, q_p = r$QEp
      )
      if (k >= 3) {
        half <- qt(0.975, k - 2) * sqrt(r$tau2 + r$se^2)
        rec$pi_low_riley <- as.numeric(r$b) - half
        rec$pi_high_riley <- as.numeric(r$b) + half
      }
      if (nm == "k4_logit_auc") {
        pt <- predict(r, transf = transf.ilogit)
        rec$natural <- list(pooled = pt$pred, ci_low = pt$ci.lb, ci_high = pt$ci.ub,
                            pi_low = pt$pi.lb, pi_high = pt$pi.ub)
      }
      if (nm == "k6_log_oe") {
        pt <- predict(r, transf = exp)
        rec$natural <- list(pooled = pt$pred, ci_low = pt$ci.lb, ci_high = pt$ci.ub,
                            pi_low = pt$pi.lb, pi_high = pt$pi.ub)
      }
      results[[length(results) + 1]] <- rec
    }
  }
}

out <- list(
  generated_by = "tests/reference/metafor.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  call = "rma(yi, vi, method = m, test = t, control = list(threshold = 1e-12)); predict()",
  i2_units = "percent (metafor)",
  results = results
)
# jsonlite keeps at most 15 significant digits: write every number as a "%.17g" string
# (round-trip exact); the Python test converts them back with float().
hp <- function(x) {
  if (is.list(x)) return(lapply(x, hp))
  if (is.numeric(x)) return(sprintf("%.17g", x))
  x
}
out$results <- hp(out$results)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/metafor.json")
