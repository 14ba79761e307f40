# Reference values for radval.stats.hosmer_lemeshow.
#
# ResourceSelection is not packaged for Debian, so its hoslem.test is re-written
# here in plain R from its documented definition (ResourceSelection 0.3-x,
# R/hoslem.test.R): breaks unique(quantile(yhat, seq(0, 1, 1/g))) (type 7),
# cut(..., include.lowest = TRUE) (right-closed), X^2 over both outcome columns,
# df = number of non-empty groups - 2, p = 1 - pchisq(X^2, df).
#
# Run from the repository root:  Rscript tests/reference/hoslem.R
# Writes tests/reference/hoslem.json.  CI never runs R.
suppressPackageStartupMessages(library(jsonlite))
set.seed(123)
# 12 significant digits: the nearest double to a short decimal, exact through JSON
r12 <- function(v) as.numeric(sprintf("%.12g", v))


hoslem_test <- function(x, y, g = 10) {
  yhat <- y
  y <- x
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1 / g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - y, y1 = y) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2 / expected)
  G <- length(unique(cutyhat))
  list(statistic = chisq, df = G - 2, p_value = 1 - pchisq(chisq, G - 2),
       observed = unname(unclass(observed)), expected = unname(unclass(expected)), G = G,
       breaks = unname(qq))
}

one_case <- function(name, p, y, g = 10) {
  stopifnot(all(p == as.numeric(sprintf("%.15g", p))))
  h <- hoslem_test(y, p, g)
  h$name <- name; h$p <- p; h$y <- y; h$g <- g
  h$p_value_df_g <- pchisq(h$statistic, g, lower.tail = FALSE)
  h
}

cases <- list()
lp <- rnorm(300, -0.5, 1.2); y <- rbinom(300, 1, plogis(lp))
cases[[1]] <- one_case("calibrated_n300_g10", r12(plogis(lp)), y)
cases[[2]] <- one_case("calibrated_n300_g5", r12(plogis(lp)), y, g = 5)
lp <- rnorm(500, -1, 1.5); y <- rbinom(500, 1, plogis(0.4 + 0.6 * lp))
cases[[3]] <- one_case("miscalibrated_n500_g10", r12(plogis(lp)), y)
lp <- rnorm(200, 0, 1); y <- rbinom(200, 1, plogis(lp))
cases[[4]] <- one_case("tied_probs_n200_g10", round(plogis(lp), 1), y)
lp <- rnorm(80, -1, 1); y <- rbinom(80, 1, plogis(lp))
cases[[5]] <- one_case("small_n80_g8", r12(plogis(lp)), y, g = 8)

out <- list(
  generated_by = "tests/reference/hoslem.R",
  r_version = R.version.string,
  packages = list(stats = as.character(packageVersion("stats")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  call = "hoslem_test(y, p, g) (ResourceSelection::hoslem.test re-implemented in plain R)",
  cases = cases
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "tests/reference/hoslem.json")
