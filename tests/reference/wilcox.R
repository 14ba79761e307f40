# Reference values for radval.stats.mann_whitney / mann_whitney_table from R's
# wilcox.test(x, y, exact = FALSE, correct = TRUE) and p.adjust(method = "BH").
#
# Run from the repository root:  Rscript tests/reference/wilcox.R
# Writes tests/reference/wilcox.json (data + results).  Uses tests/reference/asah.csv
# (pROC's aSAH, written by proc.R) when present.  CI never runs R.
suppressPackageStartupMessages(library(jsonlite))
set.seed(42)

wt <- function(name, x, y, alternative = "two.sided", correct = TRUE) {
  r <- suppressWarnings(wilcox.test(x, y, alternative = alternative, exact = FALSE,
                                    correct = correct))
  list(name = name, x = x, y = y,
       alternative = switch(alternative, two.sided = "two-sided", alternative),
       correct = correct, statistic = unname(r$statistic), p_value = r$p.value)
}

cases <- list()
x <- round(rnorm(25, 0.5), 6); y <- round(rnorm(30), 6)
cases[[1]] <- wt("untied", x, y)
cases[[2]] <- wt("untied_less", x, y, "less")
cases[[3]] <- wt("untied_greater", x, y, "greater")
cases[[4]] <- wt("untied_nocorrect", x, y, correct = FALSE)
x <- round(rnorm(40, 0.3), 0); y <- round(rnorm(35), 0)
cases[[5]] <- wt("heavy_ties", x, y)
cases[[6]] <- wt("heavy_ties_greater", x, y, "greater")
cases[[7]] <- wt("small", c(1.5, 3.2, 4.1), c(0.2, 2.2, 2.2, 5.0))
cases[[8]] <- wt("unbalanced", round(runif(3), 4), round(runif(60), 4))
cases[[9]] <- wt("tied_near_null", c(1, 2, 2, 3), c(1, 2, 3, 3))
cases[[10]] <- wt("binary_values", c(0, 1, 1, 1, 0, 1), c(0, 0, 1, 0, 0, 0, 0))
cases[[11]] <- wt("all_tied", c(2, 2, 2), c(2, 2))

# aSAH (pROC): each marker, events (Poor outcome, y = 1) versus non-events
asah_path <- "tests/reference/asah.csv"
table_case <- NULL
if (file.exists(asah_path)) {
  a <- read.csv(asah_path)
  feats <- a[, c("age", "wfns", "s100b", "ndka")]
  yy <- a$y
  source_name <- "pROC aSAH (tests/reference/asah.csv)"
} else {
  n <- 113
  yy <- rbinom(n, 1, 0.36)
  feats <- data.frame(age = round(rnorm(n, 50, 12)), wfns = sample(1:5, n, TRUE),
                      s100b = round(rexp(n, 3) + 0.2 * yy, 2), ndka = round(rexp(n, 0.1), 2))
  source_name <- "synthetic aSAH-like data"
}
feats$constant <- 1
feats$noise <- round(rnorm(nrow(feats)), 3)
for (nm in c("age", "wfns", "s100b", "ndka")) {
  cases[[length(cases) + 1]] <- wt(paste0("asah_", nm), feats[[nm]][yy == 1],
                                   feats[[nm]][yy == 0])
}
tab_p <- sapply(names(feats), function(nm)
  suppressWarnings(wilcox.test(feats[[nm]][yy == 1], feats[[nm]][yy == 0],
                               exact = FALSE, correct = TRUE)$p.value))
tab_w <- sapply(names(feats), function(nm)
  suppressWarnings(unname(wilcox.test(feats[[nm]][yy == 1], feats[[nm]][yy == 0],
                                      exact = FALSE, correct = TRUE)$statistic)))
table_case <- list(source = source_name, y = yy,
                   features = lapply(feats, identity), names = names(feats),
                   statistic = unname(tab_w), p_value = unname(tab_p),
                   q_value = unname(p.adjust(tab_p, method = "BH")),
                   n_pos = sum(yy == 1), n_neg = sum(yy == 0))

out <- list(
  generated_by = "tests/reference/wilcox.R",
  r_version = R.version.string,
  packages = list(stats = as.character(packageVersion("stats")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  call = "wilcox.test(x, y, alternative, exact = FALSE, correct)",
  cases = cases,
  table = table_case
)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, na = "null"), "tests/reference/wilcox.json")
