# Reference values for radval.selection.lasso: glmnet binomial LASSO and cv.glmnet.
# Run from the repository root:  Rscript tests/reference/glmnet.R
# Writes tests/reference/glmnet.json (data included, so CI never needs R).
suppressPackageStartupMessages({library(glmnet); library(jsonlite)})

TH <- 1e-14   # glmnet stops at thresh = 1e-7 by default; converge tightly for the reference
MX <- 1e7

fit_case <- function(name, x, y, lambdas, foldid) {
  out <- list(name = name, x = unname(x), y = as.numeric(y), foldid = foldid)
  # single-lambda fits (each call fits its own path from lambda_max down to lam)
  out$single <- lapply(lambdas, function(l) {
    f <- glmnet(x, y, family = "binomial", alpha = 1, standardize = TRUE, lambda = l,
                thresh = TH, maxit = MX)
    cf <- as.numeric(coef(f))
    list(lambda = l, intercept = cf[1], coef = cf[-1])
  })
  # default path (glmnet's own lambda sequence and early stopping)
  fp <- glmnet(x, y, family = "binomial", alpha = 1, standardize = TRUE, thresh = TH, maxit = MX)
  out$path <- list(lambda = fp$lambda, a0 = as.numeric(fp$a0),
                   beta = unname(as.matrix(t(fp$beta))), df = fp$df, dev_ratio = fp$dev.ratio,
                   nulldev = fp$nulldev)
  # cv.glmnet with a fixed foldid, deviance and AUC.  Default call: each fold fits its own
  # lambda sequence and is interpolated at the full-data lambdas (lambda.interp).
  for (tm in c("deviance", "auc")) {
    cv <- suppressWarnings(cv.glmnet(x, y, family = "binomial", alpha = 1, standardize = TRUE,
                                     foldid = foldid, type.measure = tm, thresh = TH, maxit = MX))
    out[[paste0("cv_", tm)]] <- list(lambda = cv$lambda, cvm = cv$cvm, cvsd = cv$cvsd,
                                     nzero = as.numeric(cv$nzero), lambda_min = cv$lambda.min,
                                     lambda_1se = cv$lambda.1se, name = unname(cv$name))
  }
  # the same with a given lambda sequence (every fold fitted on the same lambdas)
  lam <- fp$lambda[seq(1, length(fp$lambda), by = 2)]
  cv <- cv.glmnet(x, y, family = "binomial", alpha = 1, standardize = TRUE, lambda = lam,
                  foldid = foldid, type.measure = "deviance", thresh = TH, maxit = MX)
  out$cv_given_lambda <- list(lambda = cv$lambda, cvm = cv$cvm, cvsd = cv$cvsd,
                              nzero = as.numeric(cv$nzero), lambda_min = cv$lambda.min,
                              lambda_1se = cv$lambda.1se, name = unname(cv$name))
  out
}

cases <- list()

# 1. glmnet's own BinomialExample (n = 100, p = 30)
data(BinomialExample)
x <- BinomialExample$x; y <- BinomialExample$y
set.seed(1); fid <- sample(rep(seq(10), length = nrow(x)))
cases[[1]] <- fit_case("BinomialExample", x, y, c(0.1, 0.03, 0.01, 0.003), fid)

# 2. radiomics-like: n = 160, p = 40 correlated features on different scales
set.seed(2023)
n <- 160; p <- 40
z <- matrix(rnorm(n * p), n, p)
x <- z + 0.6 * z[, c(2:p, 1)]
x <- sweep(x, 2, 10^runif(p, -2, 3), "*")
eta <- -0.5 + 0.9 * scale(x[, 1]) - 0.7 * scale(x[, 5]) + 0.5 * scale(x[, 12])
y <- rbinom(n, 1, plogis(eta))
fid <- sample(rep(seq(10), length = n))
cases[[2]] <- fit_case("radiomics_n160_p40", x, y, c(0.08, 0.02, 0.005), fid)

# 3. p > n with unbalanced classes: n = 60, p = 100
set.seed(7)
n <- 60; p <- 100
x <- matrix(rnorm(n * p), n, p)
y <- rbinom(n, 1, plogis(-1 + 1.2 * x[, 3] - x[, 50]))
fid <- sample(rep(seq(5), length = n))
cases[[3]] <- fit_case("wide_n60_p100", x, y, c(0.1, 0.04, 0.02), fid)

res <- list(
  generated_by = "tests/reference/glmnet.R",
  R_version = R.version.string,
  glmnet_version = as.character(packageVersion("glmnet")),
  thresh = TH,
  cases = cases
)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
           "tests/reference/glmnet.json")
