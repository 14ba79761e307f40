# Reference values for radval.models.logistic.fit_logistic and the calibration
# intercept/slope used by radval.models.internal.performance_indexes.
# Run: Rscript tests/reference/glm_logistic.R  (writes glm_logistic.json)
suppressPackageStartupMessages(library(jsonlite))
set.seed(1)
n <- 120
x1 <- round(rnorm(n), 4)
x2 <- round(runif(n, 20, 80), 2)
g <- sample(c("G1", "G2", "G3"), n, replace = TRUE)
eta <- -1 + 0.8 * x1 + 0.02 * (x2 - 50) + ifelse(g == "G3", 0.9, ifelse(g == "G2", 0.3, 0))
y <- rbinom(n, 1, plogis(eta))
d <- data.frame(y = y, x1 = x1, x2 = x2, g = factor(g))
fit <- glm(y ~ x1 + x2 + g, family = binomial, data = d,
           control = glm.control(epsilon = 1e-12, maxit = 100))
s <- summary(fit)$coefficients
# calibration intercept/slope of fixed predictions p on outcome y (rms val.prob style)
p <- round(plogis(0.5 + 1.3 * x1), 6)
cal <- glm(y ~ qlogis(p), family = binomial, control = glm.control(epsilon = 1e-12))
out <- list(
  R_version = R.version.string,
  stats_version = as.character(packageVersion("stats")),
  data = list(y = y, x1 = x1, x2 = x2, g = g, p = p),
  coef = unname(coef(fit)), names = names(coef(fit)),
  se = unname(s[, 2]), deviance = deviance(fit), null_deviance = fit$null.deviance,
  loglik = as.numeric(logLik(fit)),
  cal_intercept = unname(coef(cal)[1]), cal_slope = unname(coef(cal)[2])
)
write_json(out, "glm_logistic.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
