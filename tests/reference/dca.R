# Reference net-benefit values for radval.stats.decision_curve.
#
# The R dcurves package is not in Debian, so the formulas of dcurves::dca
# (R/dca.r, R/test_consequences.R: risks 0 -> -eps, 1 -> 1 + eps; test positive
# iff risk >= threshold; tp_rate = mean(risk[y] >= pt) * prevalence, fp_rate =
# mean(risk[!y] >= pt) * (1 - prevalence); NB = tp_rate - fp_rate * pt/(1 - pt) - harm)
# are written here in plain R.  tests/reference/dcurves_df_binary.csv is
# df_binary from the Python dcurves package 1.1.7 (Apache-2.0, (c) MSKCC
# Epi-Bio; https://github.com/MSKCC-Epi-Bio/dcurves), the data of the published
# dcurves examples.  The tests also compare with dcurves' own published numbers.
#
# Run from the repository root:  Rscript tests/reference/dca.R  (writes dca.json)
suppressPackageStartupMessages(library(jsonlite))
df <- read.csv("tests/reference/dcurves_df_binary.csv")
y <- as.integer(df$cancer == "TRUE" | df$cancer == TRUE)

nb_curve <- function(y, risk, thresholds = seq(0, 0.99, by = 0.01), harm = 0,
                     prevalence = NULL, nper = 1) {
  eps <- .Machine$double.eps
  risk[risk == 0] <- -eps
  risk[risk == 1] <- 1 + eps
  prev <- if (is.null(prevalence)) mean(y) else prevalence
  tp <- sapply(thresholds, function(t) mean(risk[y == 1] >= t)) * prev
  fp <- sapply(thresholds, function(t) mean(risk[y == 0] >= t)) * (1 - prev)
  odds <- thresholds / (1 - thresholds)
  nb <- tp - fp * odds - harm
  all <- prev - (1 - prev) * odds
  nia <- (nb - all) / odds * nper
  nia[thresholds == 0] <- NA
  list(threshold = thresholds, net_benefit = nb, treat_all = all, tp_rate = tp,
       fp_rate = fp, net_interventions_avoided = nia)
}

out <- list(
  meta = list(R = R.version.string, date = format(Sys.time(), "%Y-%m-%d", tz = "UTC"),
              data = "dcurves 1.1.7 df_binary.csv (Apache-2.0)"),
  cancerpredmarker = nb_curve(y, df$cancerpredmarker),
  famhistory = nb_curve(y, df$famhistory),
  harm = nb_curve(y, df$cancerpredmarker, thresholds = c(0.05, 0.1, 0.2, 0.35), harm = 0.01),
  prevalence = nb_curve(y, df$cancerpredmarker, prevalence = 0.15, nper = 100))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/dca.json")
cat("wrote tests/reference/dca.json\n")
