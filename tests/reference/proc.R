# Reference values for radval.stats.discrimination from R's pROC.
#
# Run from the repository root:  Rscript tests/reference/proc.R
# Writes tests/reference/asah.csv (pROC's aSAH data, GPL-3 like pROC) and
# tests/reference/proc.json.  CI never runs R; tests read the JSON.
#
# Conventions (as radval): levels = c(0, 1) (1 = case), direction = "<"
# (higher score = case), no automatic direction.
suppressPackageStartupMessages({
  library(pROC)
  library(jsonlite)
})

dig <- 17
aSAH <- pROC::aSAH
asah_out <- data.frame(
  gos6 = as.integer(as.character(aSAH$gos6)),
  outcome = as.character(aSAH$outcome),
  y = as.integer(aSAH$outcome == "Poor"),
  gender = as.character(aSAH$gender),
  age = aSAH$age,
  wfns = as.integer(as.character(aSAH$wfns)),
  s100b = aSAH$s100b,
  ndka = aSAH$ndka
)
write.csv(asah_out, "tests/reference/asah.csv", row.names = FALSE)

mkroc <- function(y, s) roc(y, s, levels = c(0, 1), direction = "<", quiet = TRUE)

one_curve <- function(y, s) {
  r <- mkroc(y, s)
  m <- sum(y == 1); n <- sum(y == 0)
  out <- list(auc = as.numeric(auc(r)),
              thresholds = r$thresholds,
              tpr = r$sensitivities,
              fpr = 1 - r$specificities)
  if (m > 1 && n > 1) {
    out$var <- var(r, method = "delong")
    out$ci_delong <- as.numeric(ci.auc(r, method = "delong"))
    out$ci_delong_90 <- as.numeric(ci.auc(r, method = "delong", conf.level = 0.9))
  } else {
    out$var <- NULL
    out$ci_delong <- suppressWarnings(as.numeric(ci.auc(r, method = "delong")))
  }
  cb <- coords(r, x = "best", best.method = "youden",
               ret = c("threshold", "specificity", "sensitivity"), transpose = FALSE)
  out$youden <- list(threshold = cb$threshold, specificity = cb$specificity,
                     sensitivity = cb$sensitivity)
  out
}

pair_tests <- function(y, a, b, ya = NULL, yb = NULL) {
  ra <- mkroc(y, a); rb <- mkroc(y, b)
  res <- list()
  for (alt in c("two.sided", "greater", "less")) {
    t <- roc.test(ra, rb, method = "delong", paired = TRUE, alternative = alt)
    res[[paste0("paired_", alt)]] <- list(
      statistic = unname(t$statistic), p_value = t$p.value,
      auc_a = unname(t$estimate[1]), auc_b = unname(t$estimate[2]),
      ci = if (is.null(t$conf.int)) NULL else as.numeric(t$conf.int))
    tu <- roc.test(ra, rb, method = "delong", paired = FALSE, alternative = alt)
    res[[paste0("unpaired_", alt)]] <- list(
      statistic = unname(tu$statistic), p_value = tu$p.value,
      df = unname(tu$parameter))
  }
  res$cov <- cov(ra, rb, method = "delong")
  res
}

# ---------------------------------------------------------------- aSAH
y <- asah_out$y
asah <- list()
for (v in c("wfns", "s100b", "ndka")) asah[[v]] <- one_curve(y, asah_out[[v]])
asah_pairs <- list(
  wfns_s100b = pair_tests(y, asah_out$wfns, asah_out$s100b),
  wfns_ndka = pair_tests(y, asah_out$wfns, asah_out$ndka),
  ndka_s100b = pair_tests(y, asah_out$ndka, asah_out$s100b))

# Unpaired test across patient subsets: women vs men, s100b.
fem <- asah_out$gender == "Female"
ru_a <- mkroc(y[fem], asah_out$s100b[fem]); ru_b <- mkroc(y[!fem], asah_out$s100b[!fem])
unp_gender <- list()
for (alt in c("two.sided", "greater", "less")) {
  t <- roc.test(ru_a, ru_b, method = "delong", paired = FALSE, alternative = alt)
  unp_gender[[alt]] <- list(statistic = unname(t$statistic), p_value = t$p.value,
                            df = unname(t$parameter),
                            auc_a = unname(t$estimate[1]), auc_b = unname(t$estimate[2]))
}

# Bootstrap (distributional check only: R's RNG is not reproduced).
set.seed(20240101)
boot <- list()
for (v in c("wfns", "s100b", "ndka")) {
  r <- mkroc(y, asah_out[[v]])
  boot[[v]] <- list(
    stratified = as.numeric(ci.auc(r, method = "bootstrap", boot.n = 20000,
                                   boot.stratified = TRUE, progress = "none")),
    unstratified = as.numeric(ci.auc(r, method = "bootstrap", boot.n = 20000,
                                     boot.stratified = FALSE, progress = "none")),
    var_boot = var(r, method = "bootstrap", boot.n = 20000, progress = "none"))
}
tb <- roc.test(mkroc(y, asah_out$wfns), mkroc(y, asah_out$s100b), method = "bootstrap",
               boot.n = 20000, paired = TRUE, progress = "none")
boot$test_wfns_s100b <- list(statistic = unname(tb$statistic), p_value = tb$p.value)

# ---------------------------------------------------------------- synthetic
set.seed(42)
synth <- list()
# Continuous scores are rounded to 6 decimals so that the JSON (15 significant
# digits) holds exactly the data R used.
mk <- function(name, y, a, b) {
  a <- round(a, 6); b <- round(b, 6)
  synth[[name]] <<- list(y = y, a = a, b = b,
                         curve_a = one_curve(y, a), curve_b = one_curve(y, b),
                         tests = pair_tests(y, a, b))
}
# heavy ties: scores on a 4-point scale
y1 <- rep(c(0, 1), c(30, 20)); a1 <- round(runif(50) * 3 + y1 * 0.8); b1 <- round(runif(50) * 2 + y1 * 0.5)
mk("heavy_ties", y1, a1, b1)
# n = 5
y2 <- c(0, 1, 0, 1, 0); a2 <- c(0.1, 0.4, 0.35, 0.8, 0.2); b2 <- c(0.3, 0.3, 0.1, 0.9, 0.5)
mk("n5", y2, a2, b2)
# n = 20, continuous
y3 <- rep(c(0, 1), c(12, 8)); a3 <- rnorm(20) + y3; b3 <- rnorm(20) + 0.5 * y3
mk("n20", y3, a3, b3)
# unbalanced: 4 cases, 60 controls
y4 <- c(rep(0, 60), rep(1, 4)); a4 <- rnorm(64) + 1.2 * y4; b4 <- round(rnorm(64) + 0.7 * y4, 1)
mk("unbalanced", y4, a4, b4)
# a score that ranks events lower (AUC < 0.5, no automatic direction)
y5 <- rep(c(0, 1), c(15, 15)); a5 <- rnorm(30) - 1.0 * y5; b5 <- rnorm(30) + 0.3 * y5
mk("reversed", y5, a5, b5)
# identical curves: z = 0, p = 1
y6 <- rep(c(0, 1), c(10, 10)); a6 <- rnorm(20) + y6
mk("identical", y6, a6, a6)
# single case: AUC defined, DeLong CI NA
y7 <- c(rep(0, 9), 1); a7 <- round(c(rnorm(9), 0.5), 6)
synth$one_case <- list(y = y7, a = a7, curve_a = one_curve(y7, a7))

# near ties: the midpoint of 1 and the next double rounds onto 1; pROC then
# uses the upper value as threshold (roc.utils.thresholds).  Values written
# with 17 significant digits.
y8 <- c(0, 1, 0, 1, 1, 0)
a8 <- c(1, 1 + .Machine$double.eps, 0.5, 2, 1 + .Machine$double.eps, 1)
r8 <- mkroc(y8, a8)
synth$near_tie <- list(y = y8, a = sprintf("%.17g", a8),
                       thresholds = sprintf("%.17g", r8$thresholds),
                       tpr = r8$sensitivities, fpr = 1 - r8$specificities,
                       auc = as.numeric(auc(r8)))

# three-model covariance matrix on aSAH (for delong_test_many)
cov3 <- list()
for (p in list(c("wfns", "ndka"), c("ndka", "s100b"), c("s100b", "wfns")))
  cov3[[paste(p, collapse = "_")]] <- cov(mkroc(y, asah_out[[p[1]]]), mkroc(y, asah_out[[p[2]]]),
                                          method = "delong")

out <- list(
  meta = list(R = R.version.string, pROC = as.character(packageVersion("pROC")),
              jsonlite = as.character(packageVersion("jsonlite")),
              date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")),
  asah = asah, asah_pairs = asah_pairs, asah_cov = cov3,
  asah_unpaired_gender = unp_gender, asah_bootstrap = boot, synthetic = synth)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/proc.json")
cat("wrote tests/reference/proc.json\n")
