# Reference values for radval.pool.meta_analysis(method = "FE") and the Q-profile
# confidence intervals of tau^2, I^2 and H^2, from metafor.
#
# Run from the repository root:  Rscript tests/reference/metafor_fe.R
# Writes tests/reference/metafor_fe.json.  CI never runs R.
#
# * FE: rma(yi, vi, method = "FE", test = t) + predict(); metafor computes I^2 and H^2
#   of an FE model from Q (100 * (Q - df) / Q, Q / df).
# * Q-profile: confint(rma(yi, vi, method = m, control = list(threshold = 1e-12)),
#   control = list(tol = 1e-15)) for m in REML, DL.  metafor's default uniroot tolerance
#   (.Machine$double.eps^0.25) leaves the bounds off by up to ~1e-4; the default-tolerance
#   values are stored too (field "default_tol") to show the size of that difference.
# Numbers are written as "%.17g" strings (jsonlite keeps 15 significant digits).
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
datasets <- list(
  bcg_rr = list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi)),
  k2 = list(yi = c(0.2, 0.9), vi = c(0.04, 0.09)),
  k3_homogeneous = list(yi = c(0.50, 0.52, 0.49), vi = c(0.10, 0.12, 0.08)),
  k5 = list(yi = c(-0.31, 0.12, 0.45, -0.05, 0.88), vi = c(0.05, 0.11, 0.07, 0.20, 0.09)),
  k6_log_oe = list(yi = log(c(0.92, 1.15, 0.78, 1.31, 1.02, 0.88)),
                   vi = c(0.012, 0.020, 0.015, 0.031, 0.009, 0.018)),
  k10 = list(yi = c(1.2, 0.4, 0.9, 1.7, 0.2, 1.1, 0.65, 1.45, 0.05, 0.95),
             vi = c(0.21, 0.08, 0.15, 0.30, 0.05, 0.12, 0.09, 0.25, 0.07, 0.11)),
  k4_low_q = list(yi = c(0.30, 0.31, 0.29, 0.305), vi = c(0.05, 0.06, 0.04, 0.05)),
  k8_strong = list(yi = c(-1.5, 0.2, 1.9, -0.8, 2.6, 0.1, -2.2, 1.4),
                   vi = c(0.02, 0.03, 0.02, 0.05, 0.04, 0.03, 0.02, 0.06))
)
fe <- list(); qp <- list()
for (nm in names(datasets)) {
  d <- datasets[[nm]]
  for (t in c("z", "knha")) {
    r <- suppressWarnings(rma(d$yi, d$vi, method = "FE", test = t))
    p <- predict(r)
    fe[[length(fe) + 1]] <- list(dataset = nm, test = t, yi = d$yi, vi = d$vi,
      pooled = as.numeric(r$b), se = r$se, ci_low = r$ci.lb, ci_high = r$ci.ub,
      zval = r$zval, pval = r$pval, pi_low = p$pi.lb, pi_high = p$pi.ub,
      tau2 = r$tau2, i2 = r$I2, h2 = r$H2, q = r$QE, q_p = r$QEp)
  }
  for (m in c("REML", "DL")) {
    for (level in c(95, 90)) {
      r <- rma(d$yi, d$vi, method = m, level = level,
               control = list(threshold = 1e-12, maxiter = 10000))
      ci <- confint(r, control = list(tol = 1e-15, maxiter = 10000))$random
      ci0 <- confint(r)$random
      qp[[length(qp) + 1]] <- list(dataset = nm, method = m, level = level / 100,
        yi = d$yi, vi = d$vi, tau2 = r$tau2, i2 = r$I2, h2 = r$H2,
        tau2_ci = unname(ci["tau^2", c("ci.lb", "ci.ub")]),
        i2_ci = unname(ci["I^2(%)", c("ci.lb", "ci.ub")]),
        h2_ci = unname(ci["H^2", c("ci.lb", "ci.ub")]),
        default_tol = list(tau2_ci = unname(ci0["tau^2", c("ci.lb", "ci.ub")]),
                           i2_ci = unname(ci0["I^2(%)", c("ci.lb", "ci.ub")])))
    }
  }
}
hp <- function(x) {
  if (is.list(x)) return(lapply(x, hp))
  if (is.numeric(x)) return(sprintf("%.17g", x))
  x
}
out <- list(generated_by = "tests/reference/metafor_fe.R", r_version = R.version.string,
            metafor_version = as.character(packageVersion("metafor")),
            fe = hp(fe), q_profile = hp(qp))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE), "tests/reference/metafor_fe.json")
