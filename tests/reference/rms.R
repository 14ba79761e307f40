# Reference values for radval.stats.calibration from rms::val.prob (and glm for
# tightly converged recalibration / calibration-in-the-large fits, and stats::lowess).
#
# Run from the repository root:  Rscript tests/reference/rms.R
# Writes tests/reference/rms.json (data + results).  CI never runs R.
# Data are rounded to 12 decimals so the 15 significant digits jsonlite writes
# reproduce exactly the doubles R used (checked below).
suppressPackageStartupMessages({
  library(rms)
  library(jsonlite)
})
set.seed(1979)
# 12 significant digits: the nearest double to a short decimal, exact through JSON
r12 <- function(v) as.numeric(sprintf("%.12g", v))

tight <- glm.control(epsilon = 1e-15, maxit = 100)

one_case <- function(name, p, y) {
  stopifnot(all(p == as.numeric(sprintf("%.15g", p))))
  vp <- suppressWarnings(val.prob(p, y, pl = FALSE))
  inner <- p > 0 & p < 1
  lp <- qlogis(p[inner]); yi <- y[inner]
  # refit from the converged estimate so that the final IRLS weights (hence the
  # standard errors) are evaluated at the MLE itself, not one iteration earlier
  recal <- glm(yi ~ lp, family = binomial, control = tight)
  recal <- glm(yi ~ lp, family = binomial, control = tight, start = coef(recal))
  citl <- glm(yi ~ 1 + offset(lp), family = binomial, control = tight)
  citl <- glm(yi ~ 1 + offset(lp), family = binomial, control = tight, start = coef(citl))
  sm <- lowess(p, y, iter = 0)
  list(
    name = name, p = p, y = y,
    val_prob = as.list(vp),
    val_prob_names = names(vp),
    recal_coef = unname(coef(recal)),
    recal_se = unname(sqrt(diag(vcov(recal)))),
    recal_ci = unname(confint.default(recal)),
    citl = unname(coef(citl)), citl_se = unname(sqrt(diag(vcov(citl)))),
    citl_ci = unname(confint.default(citl)),
    o_e = sum(y) / sum(p),
    lowess_x = sm$x, lowess_y = sm$y
  )
}

cases <- list()
n <- 300
lp <- rnorm(n, -0.5, 1.2)
y <- rbinom(n, 1, plogis(lp))
cases[[1]] <- one_case("well_calibrated_n300", r12(plogis(lp)), y)
# overfitted model: predictions too extreme (slope < 1) and shifted
lp <- rnorm(500, -1, 1.5)
y <- rbinom(500, 1, plogis(0.4 + 0.6 * lp))
cases[[2]] <- one_case("overfit_n500", r12(plogis(lp)), y)
# small n, unbalanced
lp <- rnorm(60, -2, 1)
y <- rbinom(60, 1, plogis(lp))
if (sum(y) < 3) y[order(-lp)[1:3]] <- 1
cases[[3]] <- one_case("small_unbalanced_n60", r12(plogis(lp)), y)
# heavily tied predictions (rounded to 2 decimals)
lp <- rnorm(400, 0, 1)
y <- rbinom(400, 1, plogis(lp))
cases[[4]] <- one_case("tied_probs_n400", round(plogis(lp), 2), y)
# underfitted model: predictions too moderate (slope > 1)
lp <- rnorm(250, 0, 0.7)
y <- rbinom(250, 1, plogis(-0.3 + 1.8 * lp))
cases[[5]] <- one_case("underfit_n250", r12(plogis(lp)), y)
# probabilities of exactly 0 and 1 (dropped from the logistic parts)
lp <- rnorm(150, 0, 1.5)
y <- rbinom(150, 1, plogis(lp))
p <- r12(plogis(lp))
p[1:2] <- 0; y[1:2] <- 0
p[3] <- 1; y[3] <- 1
p[4] <- 1; y[4] <- 0
cases[[6]] <- one_case("zeros_and_ones_n150", p, y)

out <- list(
  generated_by = "tests/reference/rms.R",
  r_version = R.version.string,
  packages = list(rms = as.character(packageVersion("rms")),
                  Hmisc = as.character(packageVersion("Hmisc")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  call = paste("rms::val.prob(p, y, pl = FALSE);",
               "glm(y ~ qlogis(p), binomial); glm(y ~ offset(qlogis(p)), binomial)",
               "[both with epsilon = 1e-15, on 0 < p < 1]; lowess(p, y, iter = 0)"),
  cases = cases
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "tests/reference/rms.json")
