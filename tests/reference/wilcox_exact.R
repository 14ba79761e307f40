# Reference values for radval.stats.mann_whitney(method = "exact") from R's
# wilcox.test(x, y, exact = TRUE) (pwilcox), for samples without ties.
#
# Run from the repository root:  Rscript tests/reference/wilcox_exact.R
# Writes tests/reference/wilcox_exact.json.  CI never runs R.
# 'correct' does not enter the exact test; both values are stored to show it.
suppressPackageStartupMessages(library(jsonlite))
set.seed(13)
samples <- list(
  small = list(x = c(1.5, 3.2, 4.1), y = c(0.2, 2.2, 2.7, 5.0)),
  paper = list(x = c(1.1, 2.3, 3.8, 4.2), y = c(0.5, 1.0, 2.0)),
  separated = list(x = c(10.1, 11.2, 12.3, 13.4, 14.5), y = c(1.1, 2.2, 3.3, 4.4, 5.5, 6.6)),
  n12_15 = list(x = round(rnorm(12, 0.8), 8), y = round(rnorm(15), 8)),
  n30_40 = list(x = round(rnorm(30, 0.4), 8), y = round(rnorm(40), 8)),
  n49_49 = list(x = round(rnorm(49, 0.7), 8), y = round(rnorm(49), 8)),
  n1_8 = list(x = 3.3, y = round(rnorm(8, 2), 8)),
  extreme = list(x = round(rnorm(20, 4), 8), y = round(rnorm(25), 8))
)
cases <- list()
for (nm in names(samples)) {
  s <- samples[[nm]]
  stopifnot(!any(duplicated(c(s$x, s$y))))
  for (alt in c("two.sided", "less", "greater")) {
    for (corr in c(TRUE, FALSE)) {
      r <- wilcox.test(s$x, s$y, alternative = alt, exact = TRUE, correct = corr)
      cases[[length(cases) + 1]] <- list(
        name = nm, x = s$x, y = s$y,
        alternative = if (alt == "two.sided") "two-sided" else alt, correct = corr,
        statistic = unname(r$statistic), p_value = r$p.value, method = r$method)
    }
  }
}
write_json(list(R_version = R.version.string, cases = cases),
           "tests/reference/wilcox_exact.json", digits = NA, auto_unbox = TRUE)
