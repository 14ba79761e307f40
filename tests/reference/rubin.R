# Reference values for radval.stats.rubin_pool and the imputation kernels of radval.impute.
#
# * pool.scalar: mice::pool.scalar(Q, U, n = n_obs, k = 1) (Barnard-Rubin df) and
#   pool.scalar(Q, U) (large-sample df); CI and p from the t distribution with the pooled df,
#   as summary(mice::pool(...)) computes them.
# * mice::pool on logistic models fitted to m completed data sets made by mice (the completed
#   data are exported, so Python refits the same models and pools them).
# * mice's regression kernels: .norm.draw (coef, beta.star, sigma.star, with the chi-square and
#   normal draws R used, so that the draw can be replayed exactly), norm.predict, the PMM
#   predicted means, and augment() + glm.fit of mice.impute.logreg (coef and cov.unscaled).
#
# Run from tests/reference:  Rscript rubin.R   (writes rubin.json; CI never runs R)
suppressPackageStartupMessages({library(jsonlite); library(mice)})
set.seed(20240611)
r12 <- function(v) as.numeric(sprintf("%.12g", v))

scalar_case <- function(name, Q, U, n = Inf, level = 0.95) {
  p <- pool.scalar(Q, U, n = n, k = 1)
  se <- sqrt(p$t)
  tq <- qt(1 - (1 - level) / 2, p$df)
  list(name = name, Q = Q, U = U, n = if (is.finite(n)) n else NULL, level = level,
       m = p$m, qbar = p$qbar, ubar = p$ubar, b = p$b, t = p$t, df = p$df, r = p$r,
       lambda = (1 + 1 / p$m) * p$b / p$t, fmi = p$fmi,
       ci_low = p$qbar - tq * se, ci_high = p$qbar + tq * se,
       p_value = 2 * pt(abs(p$qbar / se), p$df, lower.tail = FALSE))
}
sc <- list()
Q <- r12(rnorm(5, 1.2, 0.3)); U <- r12(runif(5, 0.04, 0.06))
sc[[1]] <- scalar_case("m5_large_sample", Q, U)
sc[[2]] <- scalar_case("m5_n50", Q, U, n = 50)
Q <- r12(rnorm(20, -0.4, 0.1)); U <- r12(runif(20, 0.01, 0.012))
sc[[3]] <- scalar_case("m20_n200", Q, U, n = 200)
sc[[4]] <- scalar_case("m20_n200_level90", Q, U, n = 200, level = 0.90)
Q <- r12(rnorm(3, 0.7, 0.5)); U <- r12(runif(3, 0.001, 0.002))
sc[[5]] <- scalar_case("m3_high_fmi_n30", Q, U, n = 30)
sc[[6]] <- scalar_case("m4_no_between", rep(0.5, 4), c(0.01, 0.012, 0.011, 0.009), n = 100)

# ---- mice::pool on glm fits to mice-completed data --------------------------------------
n <- 200
x1 <- r12(rnorm(n))
x2 <- r12(0.6 * x1 + rnorm(n, 0, 0.8))
y <- rbinom(n, 1, plogis(-0.5 + 0.8 * x1 + 0.7 * x2))
x2m <- x2
miss <- runif(n) < plogis(-1.5 + 0.8 * x1)      # MAR on x1
x2m[miss] <- NA
d <- data.frame(y = y, x1 = x1, x2 = x2m)
imp <- mice(d, m = 10, method = "pmm", printFlag = FALSE, seed = 11)
fits <- with(imp, glm(y ~ x1 + x2, family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100)))
pl <- pool(fits)
sm <- summary(pl, conf.int = TRUE)
completed_x2 <- lapply(seq_len(10), function(i) complete(imp, i)$x2)
glm_pool <- list(y = y, x1 = x1, x2_missing = x2m, completed_x2 = completed_x2,
                 terms = as.character(pl$pooled$term),
                 estimate = pl$pooled$estimate, ubar = pl$pooled$ubar, b = pl$pooled$b,
                 t = pl$pooled$t, dfcom = pl$pooled$dfcom, df = pl$pooled$df,
                 riv = pl$pooled$riv, lambda = pl$pooled$lambda, fmi = pl$pooled$fmi,
                 std_error = sm$std.error, statistic = sm$statistic, p_value = sm$p.value,
                 ci_low = sm[["2.5 %"]], ci_high = sm[["97.5 %"]])

# ---- regression kernels ------------------------------------------------------------------
n <- 60
xa <- r12(rnorm(n)); xb <- r12(runif(n, 0, 3)); xc <- rbinom(n, 1, 0.4)
yy <- r12(1 + 0.5 * xa - 0.3 * xb + 0.8 * xc + rnorm(n, 0, 0.7))
ry <- runif(n) > 0.3
X <- cbind(xa, xb, xc)
Xi <- cbind(1, X)
seed <- 77
set.seed(seed); parm <- mice:::.norm.draw(yy, ry, Xi)
est <- mice:::estimice(Xi[ry, , drop = FALSE], yy[ry])
set.seed(seed); chi <- rchisq(1, est$df); z <- rnorm(ncol(Xi))
kernels <- list(y = yy, ry = ry, x = X, chisq = chi, z = z,
                coef = as.numeric(parm$coef), beta = as.numeric(parm$beta),
                sigma = parm$sigma, df = est$df, v = unname(est$v),
                norm_predict = as.numeric(mice.impute.norm.predict(yy, ry, X)),
                pmm_yhatobs = as.numeric(Xi[ry, ] %*% parm$coef),
                pmm_yhatmis = as.numeric(Xi[!ry, ] %*% parm$beta))

# logistic imputation model: augment() then weighted quasibinomial glm.fit
yb <- rbinom(n, 1, plogis(-0.3 + 0.9 * xa + 0.4 * xb))
aug <- mice:::augment(yb, ry, X, !ry)
Xa <- cbind(1, as.matrix(aug$x))
gf <- glm.fit(Xa[aug$ry, , drop = FALSE], aug$y[aug$ry], weights = aug$w[aug$ry],
              family = quasibinomial(link = logit), control = glm.control(epsilon = 1e-14, maxit = 100))
gs <- summary.glm(gf)
kernels$logreg <- list(y = yb, coef = unname(coef(gf)), cov_unscaled = unname(gs$cov.unscaled),
                       n_augmented = sum(aug$ry))

out <- list(R_version = R.version.string, mice_version = as.character(packageVersion("mice")),
            scalar = sc, glm_pool = glm_pool, kernels = kernels)
write_json(out, "rubin.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
