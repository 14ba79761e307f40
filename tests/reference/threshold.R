# Reference values for radval.stats.threshold: 2x2 metrics with Wilson and
# Clopper-Pearson intervals (epiR::epi.tests, binom.test, prop.test(correct=FALSE)),
# and pROC coords(x = "best", best.method = "youden").
#
# Run from the repository root:  Rscript tests/reference/threshold.R
# Needs tests/reference/asah.csv (written by proc.R).  Writes threshold.json.
suppressPackageStartupMessages({
  library(epiR)
  library(pROC)
  library(jsonlite)
})
asah <- read.csv("tests/reference/asah.csv")

metrics <- function(y, s, thr, conf = 0.95) {
  pos <- s >= thr
  tp <- sum(pos & y == 1); fp <- sum(pos & y == 0)
  tn <- sum(!pos & y == 0); fn <- sum(!pos & y == 1)
  fr <- list(sensitivity = c(tp, tp + fn), specificity = c(tn, tn + fp),
             ppv = c(tp, tp + fp), npv = c(tn, tn + fn), accuracy = c(tp + tn, length(y)))
  rows <- list()
  for (nm in names(fr)) {
    x <- fr[[nm]][1]; n <- fr[[nm]][2]
    if (n > 0) {
      cp <- as.numeric(binom.test(x, n, conf.level = conf)$conf.int)
      wi <- as.numeric(suppressWarnings(prop.test(x, n, conf.level = conf, correct = FALSE))$conf.int)
      est <- x / n
    } else {
      cp <- c(NA, NA); wi <- c(NA, NA); est <- NA
    }
    rows[[nm]] <- list(numerator = x, denominator = n, estimate = est,
                       clopper_pearson = cp, wilson = wi)
  }
  # epiR: table with test + / - in rows, outcome + / - in columns
  tab <- as.table(matrix(c(tp, fp, fn, tn), nrow = 2, byrow = TRUE))
  ep <- list()
  if (all(c(tp + fn, tn + fp, tp + fp, tn + fn) > 0)) {
    for (meth in c("exact", "wilson")) {
      d <- epi.tests(tab, method = meth, conf.level = conf)$detail
      keep <- d[d$statistic %in% c("se", "sp", "pv.pos", "pv.neg", "diag.ac"), ]
      ep[[meth]] <- list(statistic = keep$statistic, est = keep$est,
                         lower = keep$lower, upper = keep$upper)
    }
  }
  list(threshold = thr, conf = conf, tp = tp, fp = fp, tn = tn, fn = fn,
       metrics = rows, epir = ep)
}

cases <- list(
  s100b_0205 = c(list(marker = "s100b"), metrics(asah$y, asah$s100b, 0.205)),
  wfns_35 = c(list(marker = "wfns"), metrics(asah$y, asah$wfns, 3.5)),
  ndka_1108_90 = c(list(marker = "ndka"), metrics(asah$y, asah$ndka, 11.08, conf = 0.90)),
  # all test-positive: specificity 0/72, NPV undefined
  s100b_all_pos = c(list(marker = "s100b"), metrics(asah$y, asah$s100b, 0)),
  # a threshold above every value: sensitivity 0/41, PPV undefined
  s100b_none_pos = c(list(marker = "s100b"), metrics(asah$y, asah$s100b, 100)))

youden <- list()
mkroc <- function(y, s) roc(y, s, levels = c(0, 1), direction = "<", quiet = TRUE)
set.seed(7)
yd <- list(
  asah_s100b = list(y = asah$y, s = asah$s100b),
  asah_wfns = list(y = asah$y, s = asah$wfns),
  asah_ndka = list(y = asah$y, s = asah$ndka),
  asah_age = list(y = asah$y, s = asah$age),
  ties = list(y = c(0, 0, 1, 1, 0, 1), s = c(1, 2, 2, 3, 3, 4)),
  # several optimal thresholds (pROC returns all of them)
  multi = list(y = c(0, 1, 0, 1, 0, 1, 0, 1), s = c(1, 2, 3, 4, 5, 6, 7, 8)),
  reversed = list(y = c(1, 1, 1, 0, 0, 0), s = c(1, 2, 3, 4, 5, 6)),
  random40 = list(y = rep(c(0, 1), 20), s = round(rnorm(40), 1)))
for (nm in names(yd)) {
  r <- mkroc(yd[[nm]]$y, yd[[nm]]$s)
  cb <- coords(r, x = "best", best.method = "youden",
               ret = c("threshold", "specificity", "sensitivity"), transpose = FALSE)
  youden[[nm]] <- list(y = yd[[nm]]$y, s = yd[[nm]]$s, threshold = cb$threshold,
                       specificity = cb$specificity, sensitivity = cb$sensitivity)
}

out <- list(meta = list(R = R.version.string, epiR = as.character(packageVersion("epiR")),
                        pROC = as.character(packageVersion("pROC")),
                        date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")),
            metrics = cases, youden = youden)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/threshold.json")
cat("wrote tests/reference/threshold.json\n")
