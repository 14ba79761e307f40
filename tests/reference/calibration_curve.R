# Reference values for radval.stats.calibration_curve and optimism_corrected_curve.
#
# Run from the repository root:  Rscript tests/reference/calibration_curve.R
# Writes tests/reference/calibration_curve.json.  CI never runs R.
#
# * loess: CalibrationCurves::val.prob.ci.2 (BavoDC/CalibrationCurves, R/val.prob.ci.2.R)
#   fits  do.call("loess", argzLoess)  with argzLoess = alist(degree = 2) and formula
#   y ~ p, i.e. stats::loess(y ~ p, degree = 2) with R's defaults span = 0.75,
#   family = "gaussian", surface = "interpolate", cell = 0.2; its bootstrap band
#   (CL.BT = TRUE) predicts each refit on seq(min(p), max(p), length = 200).
#   CalibrationCurves is not in Debian, so the same call is made with stats::loess.
#   ICI/E50/E90/Emax as Austin & Steyerberg (2019): predict(loess(y ~ p), p).
#   surface = "direct" values are stored to measure how far the two surfaces differ.
# * spline: glm(y ~ rms::rcs(qlogis(p), k), binomial) with glm.control(epsilon = 1e-14)
#   (R's default epsilon = 1e-8 stops early: predictions differ from the converged
#   fit by up to ~1e-6).
# * lowess: approx(lowess(p, y, iter = 0), xout = grid, ties = function(x) x[1])$y
#   (rms::calibrate's cal.error).
# * rms::calibrate(lrm(...), B = 40): the bootstrap resamples are replayed
#   (set.seed(123); replicate(40, sample(n, replace = TRUE)) draws the same indices as
#   predab.resample after set.seed(123); checked below), and each resample's
#   lrm.fit(tol = 1e-13) coefficients are stored, so that Python recomputes the
#   train/test lowess curves and the correction from the same refits.
# Data are rounded to 10 decimals so that the JSON holds them exactly.
suppressPackageStartupMessages({
  library(rms)
  library(jsonlite)
})

rec <- function(name, p, y) {
  g <- seq(min(p), max(p), length = 200)
  f <- loess(y ~ p, degree = 2)
  fd <- loess(y ~ p, degree = 2, control = loess.control(surface = "direct"))
  pc <- predict(f, newdata = p)
  err <- abs(pc - p)
  lp <- qlogis(p)
  s5 <- glm(y ~ rcs(lp, 5), family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
  s3 <- glm(y ~ rcs(lp, 3), family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
  s5_err <- abs(fitted(s5) - p)
  lw <- approx(lowess(p, y, iter = 0), xout = g, ties = function(x) x[1])$y
  list(name = name, p = p, y = y, grid = g,
       loess_grid = unname(predict(f, data.frame(p = g))), loess_fitted = unname(fitted(f)),
       loess_direct_grid = unname(predict(fd, data.frame(p = g))),
       n_vertices = unname(f$kd$parameter["nv"]),
       ici = mean(err), e50 = median(err), e90 = unname(quantile(err, 0.9)), emax = max(err),
       spline5_grid = unname(predict(s5, data.frame(lp = qlogis(g)), type = "response")),
       spline3_grid = unname(predict(s3, data.frame(lp = qlogis(g)), type = "response")),
       spline5_knots = unname(attr(rcs(lp, 5), "parms")),
       spline3_knots = unname(attr(rcs(lp, 3), "parms")),
       spline5_ici = mean(s5_err), spline5_e90 = unname(quantile(s5_err, 0.9)),
       spline5_emax = max(s5_err),
       lowess_grid = lw)
}

set.seed(2024)
cases <- list()
p <- round(plogis(rnorm(300, -1, 1.2)), 10)
cases[[1]] <- rec("n300", p, rbinom(300, 1, plogis(0.2 + 0.8 * qlogis(p))))
p <- round(plogis(rnorm(60, -0.5, 1)), 10)
cases[[2]] <- rec("n60", p, rbinom(60, 1, p))
p <- round(plogis(rnorm(150, -1, 1.3)), 2)
cases[[3]] <- rec("n150_ties", p, rbinom(150, 1, p))
p <- round(plogis(rnorm(1000, -2, 1)), 10)
cases[[4]] <- rec("n1000", p, rbinom(1000, 1, plogis(-0.3 + 1.2 * qlogis(p))))
p <- round(plogis(rnorm(200, -1, 1.2)), 10)
p <- sample(p, replace = TRUE)              # a bootstrap-like sample with duplicates
cases[[5]] <- rec("n200_duplicates", p, rbinom(200, 1, p))

# ---- rms::calibrate with replayed resamples
set.seed(10); n <- 200; B <- 40
X <- matrix(round(rnorm(n * 3), 6), n, 3); colnames(X) <- c("x1", "x2", "x3")
y <- rbinom(n, 1, plogis(-0.5 + X %*% c(0.8, -0.5, 0.3)))
d <- data.frame(X, y = y)
f <- lrm(y ~ x1 + x2 + x3, data = d, x = TRUE, y = TRUE)
set.seed(123); cal <- calibrate(f, B = B)
set.seed(123); idx <- replicate(B, sample(n, replace = TRUE))
predy <- cal[, "predy"]
ce <- function(p, yy) approx(lowess(p, yy, iter = 0), xout = predy, ties = function(x) x[1])$y
tr <- te <- matrix(NA, B, length(predy)); coefs <- matrix(NA, B, 4)
for (b in 1:B) {
  i <- idx[, b]
  fb <- lrm.fit(f$x[i, ], y[i], tol = 1e-13)
  coefs[b, ] <- fb$coefficients
  tr[b, ] <- ce(plogis(cbind(1, f$x[i, ]) %*% fb$coefficients), y[i])
  te[b, ] <- ce(plogis(cbind(1, f$x) %*% fb$coefficients), y)
}
ok <- !is.na(tr + te)
opt <- colSums(ifelse(ok, tr - te, 0)) / colSums(ok)
stopifnot(max(abs((cal[, "calibrated.orig"] - opt) - cal[, "calibrated.corrected"])) < 1e-14)
predicted <- attr(cal, "predicted")
s <- !is.na(cal[, "predy"] + cal[, "calibrated.corrected"])
err <- predicted - approx(cal[s, "predy"], cal[s, "calibrated.corrected"], xout = predicted,
                          ties = mean)$y
calibrate_case <- list(
  x = unname(X), y = as.integer(y), coef = unname(f$coefficients),
  predicted = unname(predicted),
  resample_index = unname(t(idx)) - 1L,   # 0-based, one row per resample
  resample_coef = coefs,
  predy = unname(predy),
  calibrated_orig = unname(cal[, "calibrated.orig"]),
  calibrated_corrected = unname(cal[, "calibrated.corrected"]),
  n_used = unname(cal[, "n"]),
  mean_abs_error = mean(abs(err), na.rm = TRUE),
  mean_squared_error = mean(err^2, na.rm = TRUE),
  q90_abs_error = unname(quantile(abs(err), 0.9, na.rm = TRUE))
)

write_json(list(R_version = R.version.string,
                rms_version = as.character(packageVersion("rms")),
                cases = cases, calibrate = calibrate_case),
           "tests/reference/calibration_curve.json", digits = NA, auto_unbox = TRUE)
