# Reference values for radval.stats.reclassification from Hmisc::improveProb.
#
# Run from the repository root:  Rscript tests/reference/nri.R
# Needs tests/reference/asah.csv (written by proc.R).  Writes nri.json.
# Categorical NRI as PredictABEL::reclassification: categories from
# cut(p, c(0, cutoffs, 1), right = FALSE, include.lowest = TRUE), then
# improveProb on the category index / number of categories.
suppressPackageStartupMessages({
  library(Hmisc)
  library(jsonlite)
})
asah <- read.csv("tests/reference/asah.csv")
y <- asah$y
p_old <- round(fitted(glm(y ~ age + wfns, family = binomial, data = asah)), 10)
p_new <- round(fitted(glm(y ~ age + wfns + s100b, family = binomial, data = asah)), 10)

ip <- function(x1, x2, y, conf = 0.95) {
  r <- improveProb(x1, x2, y)
  z <- qnorm((1 + conf) / 2)
  list(n = r$n, na = r$na, nb = r$nb, pup.ev = r$pup.ev, pup.ne = r$pup.ne,
       pdown.ev = r$pdown.ev, pdown.ne = r$pdown.ne,
       nri = r$nri, se.nri = r$se.nri, z.nri = r$z.nri, p.nri = 2 * pnorm(-abs(r$z.nri)),
       ci.nri = c(r$nri - z * r$se.nri, r$nri + z * r$se.nri),
       nri.ev = r$nri.ev, se.nri.ev = r$se.nri.ev, z.nri.ev = r$z.nri.ev,
       nri.ne = r$nri.ne, se.nri.ne = r$se.nri.ne, z.nri.ne = r$z.nri.ne,
       improveSens = r$improveSens, improveSpec = r$improveSpec,
       idi = r$idi, se.idi = r$se.idi, z.idi = r$z.idi, p.idi = 2 * pnorm(-abs(r$z.idi)),
       ci.idi = c(r$idi - z * r$se.idi, r$idi + z * r$se.idi), conf = conf)
}
categ <- function(p, cutoffs) {
  as.integer(cut(p, c(0, cutoffs, 1), right = FALSE, include.lowest = TRUE))
}
cat_nri <- function(x1, x2, y, cutoffs, conf = 0.95) {
  k <- length(cutoffs) + 1
  c(list(cutoffs = cutoffs), ip(categ(x1, cutoffs) / k, categ(x2, cutoffs) / k, y, conf))
}

set.seed(11)
ys <- rbinom(60, 1, 0.3)
q_old <- round(runif(60), 2)  # ties and unchanged risks
q_new <- ifelse(runif(60) < 0.3, q_old, round(pmin(1, pmax(0, q_old + 0.2 * ys - 0.1 + rnorm(60, 0, 0.1))), 2))

out <- list(
  meta = list(R = R.version.string, Hmisc = as.character(packageVersion("Hmisc")),
              date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")),
  asah = list(y = y, p_old = p_old, p_new = p_new,
              continuous = ip(p_old, p_new, y),
              continuous_90 = ip(p_old, p_new, y, conf = 0.90),
              categorical_2 = cat_nri(p_old, p_new, y, c(0.2, 0.4)),
              categorical_3 = cat_nri(p_old, p_new, y, c(0.1, 0.3, 0.6))),
  synthetic = list(y = ys, p_old = q_old, p_new = q_new,
                   continuous = ip(q_old, q_new, ys),
                   categorical = cat_nri(q_old, q_new, ys, c(0.25, 0.5, 0.75))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE),
           "tests/reference/nri.json")
cat("wrote tests/reference/nri.json\n")
