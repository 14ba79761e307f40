# Reference values for radval.stats.partial_auc from pROC.
#
# Run from the repository root:  Rscript tests/reference/partial_auc.R
# Writes tests/reference/partial_auc.json.  CI never runs R.
#
# auc(roc(y, s, levels = c(0, 1), direction = "<"), partial.auc = c(high, low),
#     partial.auc.focus = focus, partial.auc.correct = correct)
# for the aSAH markers (tests/reference/asah.csv, written by proc.R) and simulated
# scores, over ranges that hit ROC points exactly, fall between points, or lie
# inside a single segment (pROC's "x.inc empty" branch).
suppressPackageStartupMessages({
  library(pROC)
  library(jsonlite)
})
a <- read.csv("tests/reference/asah.csv")
set.seed(77)
sim_y <- rbinom(150, 1, 0.35)
sim_s <- round(rnorm(150, mean = sim_y * 0.9), 3)   # ties included
tiny_y <- c(0, 0, 0, 0, 1, 1, 1, 1)
tiny_s <- c(0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9)
bad_y <- c(0, 0, 0, 1, 1, 1)
bad_s <- c(0.9, 0.8, 0.4, 0.1, 0.3, 0.5)       # below the diagonal
data <- list(
  asah_s100b = list(y = a$y, s = a$s100b),
  asah_wfns = list(y = a$y, s = a$wfns),
  asah_ndka = list(y = a$y, s = a$ndka),
  sim = list(y = sim_y, s = sim_s),
  tiny = list(y = tiny_y, s = tiny_s),
  below_diagonal = list(y = bad_y, s = bad_s)
)
ranges <- list(c(1, 0.8), c(1, 0.9), c(0.9, 0.7), c(0.95, 0.5), c(0.91, 0.905),
               c(0.5, 0), c(1, 0), c(0.75, 0.7222222222))
cases <- list()
for (nm in names(data)) {
  d <- data[[nm]]
  r <- roc(d$y, d$s, levels = c(0, 1), direction = "<", quiet = TRUE)
  for (focus in c("specificity", "sensitivity")) {
    for (pr in ranges) {
      for (corr in c(FALSE, TRUE)) {
        v <- suppressWarnings(as.numeric(auc(r, partial.auc = pr, partial.auc.focus = focus,
                                             partial.auc.correct = corr)))
        cases[[length(cases) + 1]] <- list(data = nm, focus = focus, high = pr[1],
                                           low = pr[2], correct = corr,
                                           value = if (is.na(v)) NULL else v)
      }
    }
  }
}
out <- list(R_version = R.version.string, pROC_version = as.character(packageVersion("pROC")),
            data = data, cases = cases)
write_json(out, "tests/reference/partial_auc.json", digits = NA, auto_unbox = TRUE,
           null = "null")
