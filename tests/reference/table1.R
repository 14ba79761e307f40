# Reference values for radval.stats.baseline_table (tests/stats/test_descriptive.py).
# Run: Rscript tests/reference/table1.R   (writes tests/reference/table1.json)
suppressPackageStartupMessages(library(jsonlite))
set.seed(20231024)
n <- c(A = 40, B = 30, C = 35)
cohort <- rep(names(n), n)
N <- sum(n)
age <- round(rnorm(N, mean = 60 + 3 * (cohort == "B"), sd = 9 + 4 * (cohort == "C")), 3)
size <- round(exp(rnorm(N, 3 + 0.2 * (cohort == "C"), 0.5)), 4)
size_tied <- round(size / 10)                  # many ties -> normal approximation
grade <- sample(c("G1", "G2", "G3"), N, replace = TRUE, prob = c(0.3, 0.5, 0.2))
sex <- sample(c("F", "M"), N, replace = TRUE)
rare <- rbinom(N, 1, 0.02 + 0.15 * (cohort == "B"))
age[c(3, 50)] <- NA
grade[c(7, 80, 81)] <- NA
d <- data.frame(cohort, age, size, size_tied, grade, sex, rare, stringsAsFactors = FALSE)
ab <- d[d$cohort %in% c("A", "B"), ]
# a larger two-group set for the tie-corrected normal approximation of wilcox.test
big <- data.frame(g = rep(c("A", "B"), c(70, 60)),
                  v = c(rpois(70, 4), rpois(60, 5)))

tab <- function(x, g) table(x, g)
out <- list(
  data = d,

  three = list(
    welch_anova_age = oneway.test(age ~ cohort, data = d, var.equal = FALSE)$p.value,
    kruskal_size = kruskal.test(size ~ factor(cohort), data = d)$p.value,
    chisq_grade = chisq.test(tab(d$grade, d$cohort))$p.value,
    chisq_sex = chisq.test(tab(d$sex, d$cohort))$p.value,
    mean_age_A = mean(d$age[d$cohort == "A"], na.rm = TRUE),
    sd_age_A = sd(d$age[d$cohort == "A"], na.rm = TRUE),
    quantile_size_C = unname(quantile(d$size[d$cohort == "C"], c(.25, .5, .75), type = 7))
  ),
  two = list(
    t_age = t.test(age ~ cohort, data = ab, var.equal = FALSE)$p.value,
    wilcox_size_exact = wilcox.test(size ~ cohort, data = ab, exact = NULL, correct = TRUE)$p.value,
    wilcox_size_tied = suppressWarnings(wilcox.test(size_tied ~ cohort, data = ab,
                                                    correct = TRUE)$p.value),
    chisq_sex_yates = chisq.test(tab(ab$sex, ab$cohort), correct = TRUE)$p.value,
    fisher_rare = fisher.test(tab(ab$rare, ab$cohort))$p.value,
    expected_rare_min = min(suppressWarnings(chisq.test(tab(ab$rare, ab$cohort))$expected))
  ),
  big = list(data = big,
             wilcox_normal = wilcox.test(v ~ g, data = big, correct = TRUE)$p.value),
  versions = list(R = R.version.string, stats = as.character(packageVersion("stats")),
                  jsonlite = as.character(packageVersion("jsonlite")))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
           "tests/reference/table1.json")
