# Reference values for radval.stats.adjust_pvalues from R's p.adjust.
#
# Run from the repository root:  Rscript tests/reference/padjust.R
# Writes tests/reference/padjust.json.  NA stays NA and is not counted (n = sum(!is.na(p))).
suppressPackageStartupMessages(library(jsonlite))
set.seed(7)
inputs <- list(
  simple = c(0.01, 0.04, 0.03, 0.005, 0.2),
  with_na = c(0.01, NA, 0.04, 0.03, NA, 0.5),
  ties = c(0.02, 0.02, 0.02, 0.5, 0.001, 0.001),
  uniform = round(runif(40), 8),
  small = c(1e-12, 3e-10, 0.049, 0.051, 1),
  single = c(0.03),
  ones = c(1, 1, 0.9)
)
cases <- lapply(names(inputs), function(nm) {
  p <- inputs[[nm]]
  list(name = nm, p = p,
       holm = p.adjust(p, "holm"), bh = p.adjust(p, "BH"),
       bonferroni = p.adjust(p, "bonferroni"))
})
out <- list(generated_by = "tests/reference/padjust.R", r_version = R.version.string,
            packages = list(stats = as.character(packageVersion("stats"))),
            call = "p.adjust(p, method = c('holm', 'BH', 'bonferroni'))", cases = cases)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, na = "null"), "tests/reference/padjust.json")
