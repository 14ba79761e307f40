# Reference values for radval.harmonize.ComBat: R sva::ComBat (sva 3.46, Debian r-bioc-sva).
#
# Simulated multi-batch data (3 development batches of unequal size, 12 features with
# additive and multiplicative batch effects, covariates age (integer years) and sex) and a
# fourth batch "D" that plays a site unseen in development.  Variants: parametric and
# non-parametric empirical Bayes, with and without covariates (mod = model.matrix(~ age +
# sex)), with a reference batch, mean-only.  The "unseen" case runs ComBat on the
# development batches plus D with ref.batch = "A" and no covariates: then the reference
# mean and pooled variance come from batch A alone and D's parameters from D alone, so
# ComBat(fit on A-C, reference A).transform(D) must give D's rows of this run.
#
# radval takes samples x features; sva takes features x samples (hence the t()).
# Run from tests/reference:  Rscript combat.R   (writes combat.json; CI never runs R)
suppressPackageStartupMessages({library(jsonlite); library(sva)})
set.seed(4242)
r12 <- function(v) as.numeric(sprintf("%.12g", v))

sizes <- c(A = 40, B = 30, C = 35, D = 25)
batch <- rep(names(sizes), sizes)
n <- length(batch)
p <- 12
age <- sample(40:80, n, replace = TRUE)
sex <- sample(c("F", "M"), n, replace = TRUE)
base <- matrix(rnorm(n * p), n, p)
mu <- seq(1, 12) * 0.5
shift <- rbind(A = rnorm(p, 0, 0.3), B = rnorm(p, 0.8, 0.4), C = rnorm(p, -0.5, 0.3),
               D = rnorm(p, 1.2, 0.4))
scale <- rbind(A = rep(1, p), B = exp(rnorm(p, 0.3, 0.2)), C = exp(rnorm(p, -0.2, 0.2)),
               D = exp(rnorm(p, 0.5, 0.2)))
X <- matrix(0, n, p)
for (i in seq_len(n)) {
  b <- batch[i]
  X[i, ] <- mu + 0.03 * (age[i] - 60) + 0.4 * (sex[i] == "M") + shift[b, ] + scale[b, ] * base[i, ]
}
X <- r12(X)
X <- matrix(X, n, p)
dev <- batch != "D"

run <- function(name, rows, mod_formula = NULL, par.prior = TRUE, mean.only = FALSE,
                ref.batch = NULL) {
  dat <- t(X[rows, ])
  df <- data.frame(age = age[rows], sex = factor(sex[rows]))
  mod <- if (is.null(mod_formula)) NULL else model.matrix(mod_formula, data = df)
  out <- suppressMessages(ComBat(dat, batch[rows], mod = mod, par.prior = par.prior,
                                 mean.only = mean.only, ref.batch = ref.batch))
  list(name = name, rows = which(rows) - 1L, covariates = !is.null(mod_formula),
       parametric = par.prior, mean_only = mean.only,
       reference_batch = if (is.null(ref.batch)) NULL else ref.batch,
       harmonised = unname(t(out)))
}
cases <- list(
  run("parametric", dev),
  run("nonparametric", dev, par.prior = FALSE),
  run("parametric_covariates", dev, ~ age + sex),
  run("nonparametric_covariates", dev, ~ age + sex, par.prior = FALSE),
  run("parametric_reference_B_covariates", dev, ~ age + sex, ref.batch = "B"),
  run("nonparametric_reference_A", dev, par.prior = FALSE, ref.batch = "A"),
  run("mean_only", dev, mean.only = TRUE),
  run("mean_only_nonparametric", dev, par.prior = FALSE, mean.only = TRUE),
  run("mean_only_reference_C_covariates", dev, ~ age + sex, mean.only = TRUE, ref.batch = "C"),
  run("unseen_D_reference_A", rep(TRUE, n), ref.batch = "A")
)
# batch-outcome association guard: chisq.test(correct = FALSE); fisher.test for a small 2 x 2
y <- rbinom(n, 1, ifelse(batch == "B", 0.55, 0.3))
ct <- suppressWarnings(chisq.test(table(batch, y), correct = FALSE))
ys <- c(rep(0, 6), rep(1, 2), rep(0, 2), rep(1, 5))
bs <- c(rep("A", 8), rep("B", 7))
ft <- fisher.test(table(bs, ys))
association <- list(y = y, chisq_statistic = unname(ct$statistic), chisq_df = unname(ct$parameter),
                    chisq_p = ct$p.value, small_batch = bs, small_y = ys,
                    fisher_p = ft$p.value)

out <- list(R_version = R.version.string, sva_version = as.character(packageVersion("sva")),
            features = unname(X), batch = batch, age = age, sex = sex, cases = cases,
            association = association)
write_json(out, "combat.json", digits = NA, auto_unbox = TRUE, pretty = FALSE)
