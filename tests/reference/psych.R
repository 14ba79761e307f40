# Reference values for radval.stats.icc from R's psych::ICC(x, lmer = FALSE).
#
# Run from the repository root:  Rscript tests/reference/psych.R
# Writes tests/reference/psych.json (data + results).  CI never runs R.
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})
set.seed(20231024)

run_icc <- function(name, x, alpha = 0.05) {
  x <- as.matrix(x)
  r <- psych::ICC(x, lmer = FALSE, alpha = alpha)
  res <- r$results
  list(
    name = name,
    confidence_level = 1 - alpha,
    data = unname(lapply(seq_len(nrow(x)), function(i) unname(x[i, ]))),
    type = as.character(res$type),
    icc = res$ICC, F = res$F, df1 = res$df1, df2 = res$df2, p = res$p,
    lower = res[["lower bound"]], upper = res[["upper bound"]],
    msb = r$stats["MS", "subjects"], msj = r$stats["MS", "Judges"],
    mse = r$stats["MS", "Residual"]
  )
}

cases <- list()
# Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges
sf <- cbind(J1 = c(9, 6, 8, 7, 10, 6), J2 = c(2, 1, 4, 1, 5, 2),
            J3 = c(5, 3, 6, 2, 6, 4), J4 = c(8, 2, 8, 6, 9, 7))
cases[[length(cases) + 1]] <- run_icc("shrout_fleiss_1979", sf)
cases[[length(cases) + 1]] <- run_icc("shrout_fleiss_1979_90", sf, alpha = 0.10)
# pingouin's wine data (icc.csv): 8 wines x 4 judges
wine <- rbind(c(1, 2, 0, 1), c(1, 3, 3, 2), c(3, 8, 1, 4), c(6, 4, 3, 3),
              c(6, 5, 5, 6), c(7, 5, 6, 2), c(8, 7, 7, 9), c(9, 9, 9, 8))
cases[[length(cases) + 1]] <- run_icc("pingouin_wine", wine)

synth <- function(n, k, rater_sd = 0.3, err_sd = 0.5, offset = 0, digits = 4) {
  subj <- rnorm(n)
  rater <- rnorm(k, sd = rater_sd)
  x <- outer(subj, rater, "+") + matrix(rnorm(n * k, sd = err_sd), n, k) + offset
  round(x, digits)
}
cases[[length(cases) + 1]] <- run_icc("synthetic_n10_k2", synth(10, 2))
cases[[length(cases) + 1]] <- run_icc("synthetic_n30_k3", synth(30, 3))
cases[[length(cases) + 1]] <- run_icc("synthetic_n5_k3", synth(5, 3, err_sd = 1))
cases[[length(cases) + 1]] <- run_icc("synthetic_n200_k2", synth(200, 2))
cases[[length(cases) + 1]] <- run_icc("synthetic_n100_k5", synth(100, 5, err_sd = 2))
# a feature where MSJ < MSE (no rater effect; psych lmer=TRUE would differ here)
repeat {
  x <- synth(20, 3, rater_sd = 0, err_sd = 1)
  r <- psych::ICC(x, lmer = FALSE)
  if (r$stats["MS", "Judges"] < r$stats["MS", "Residual"]) break
}
cases[[length(cases) + 1]] <- run_icc("msj_below_mse", x)
# poor reliability (negative ICC1 possible)
cases[[length(cases) + 1]] <- run_icc("poor_reliability", synth(15, 2, err_sd = 3))
# large offset: cancellation stress test (values ~ 1e6 + O(1))
cases[[length(cases) + 1]] <- run_icc("large_offset", synth(25, 3, offset = 1e6, digits = 3))

out <- list(
  generated_by = "tests/reference/psych.R",
  r_version = R.version.string,
  packages = list(psych = as.character(packageVersion("psych")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  call = "psych::ICC(x, lmer = FALSE, alpha = 1 - confidence_level)",
  cases = cases
)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = FALSE),
           "tests/reference/psych.json")
