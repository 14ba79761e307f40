# Reference for radval.workflow._calibration (subgroup calibration and its heterogeneity):
# per level, calibration-in-the-large and slope with their SEs from glm (as rms val.prob:
# CITL = glm(y ~ offset(logit p)), slope = glm(y ~ logit p)), log O/E with
# SE sqrt((1 - O/n)/O), and Cochran's Q across the levels of each measure
# (metafor::rma(method = "FE")$QE, $QEp, $beta).
# Run: Rscript tests/reference/subgroup_calibration.R  (writes subgroup_calibration.json)
suppressPackageStartupMessages({library(jsonlite); library(metafor)})
set.seed(13)
n <- 240
x <- rnorm(n)
level <- rep(c("a", "b", "c"), length.out = n)
shift <- c(a = 0, b = 0.5, c = -0.3)[level]
y <- rbinom(n, 1, plogis(-0.6 + 1.1 * x + shift))
p <- round(plogis(-0.5 + 0.9 * x), 6)
res <- list()
citl <- c(); citl_se <- c(); slope <- c(); slope_se <- c(); loe <- c(); loe_se <- c()
for (lv in c("a", "b", "c")) {
  m <- level == lv
  lp <- qlogis(p[m])
  f1 <- glm(y[m] ~ offset(lp), family = binomial,
            control = glm.control(epsilon = 1e-14, maxit = 100))
  f2 <- glm(y[m] ~ lp, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
  # refit from the converged coefficients: vcov then uses the weights at the estimate
  # (glm's covariance uses the weights of its last iteration; epsilon alone leaves ~1e-9)
  f1 <- glm(y[m] ~ offset(lp), family = binomial, start = coef(f1),
            control = glm.control(epsilon = 1e-14, maxit = 100))
  f2 <- glm(y[m] ~ lp, family = binomial, start = coef(f2),
            control = glm.control(epsilon = 1e-14, maxit = 100))
  o <- sum(y[m]); e <- sum(p[m])
  citl <- c(citl, coef(f1)[1]); citl_se <- c(citl_se, sqrt(vcov(f1)[1, 1]))
  slope <- c(slope, coef(f2)[2]); slope_se <- c(slope_se, sqrt(vcov(f2)[2, 2]))
  loe <- c(loe, log(o / e)); loe_se <- c(loe_se, sqrt((1 - o / sum(m)) / o))
}
q <- function(est, se) {
  f <- rma(yi = est, sei = se, method = "FE")
  list(statistic = f$QE, p_value = f$QEp, pooled = as.numeric(f$beta))
}
out <- list(
  R_version = R.version.string, metafor_version = as.character(packageVersion("metafor")),
  y = y, p = p, level = level,
  citl = unname(citl), citl_se = unname(citl_se), slope = unname(slope),
  slope_se = unname(slope_se), log_o_e = loe, log_o_e_se = loe_se,
  q_citl = q(citl, citl_se), q_slope = q(slope, slope_se), q_log_o_e = q(loe, loe_se)
)
write_json(out, "subgroup_calibration.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
