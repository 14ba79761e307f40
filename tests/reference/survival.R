# Reference values for radval.stats.survival: survfit, survdiff, coxph, concordance.
# Run from the repository root:  Rscript tests/reference/survival.R
# Writes tests/reference/survival.json (data included, so CI never needs R).
suppressPackageStartupMessages({library(survival); library(jsonlite)})

km_rows <- function(fit) {
  s <- summary(fit, censored = TRUE)
  grp <- if (is.null(s$strata)) rep("all", length(s$time)) else sub(".*=", "", as.character(s$strata))
  list(group = grp, time = s$time, survival = s$surv, at_risk = s$n.risk, n_event = s$n.event,
       n_censor = s$n.censor, std_err = fit$std.err, ci_low = s$lower, ci_high = s$upper)
}

case <- function(name, time, event, group, x, score) {
  d <- data.frame(time = time, event = event, group = group, x)
  xn <- colnames(x)
  out <- list(name = name, time = time, event = event, group = as.character(group),
              x = unname(as.matrix(x)), score = score, x_names = xn)
  out$km_all <- km_rows(survfit(Surv(time, event) ~ 1, data = d))
  out$km_group <- km_rows(survfit(Surv(time, event) ~ group, data = d))
  sd <- survdiff(Surv(time, event) ~ group, data = d)
  out$logrank <- list(statistic = sd$chisq, df = length(sd$n) - 1,
                      p_value = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE),
                      observed = as.numeric(sd$obs), expected = as.numeric(sd$exp))
  fml <- as.formula(paste("Surv(time, event) ~", paste(xn, collapse = " + ")))
  for (ties in c("efron", "breslow")) {
    f <- coxph(fml, data = d, ties = ties, control = coxph.control(eps = 1e-13, toler.chol = 1e-14, iter.max = 100))
    s <- summary(f)
    out[[paste0("cox_", ties)]] <- list(coef = unname(coef(f)), se = unname(sqrt(diag(vcov(f)))),
      p_value = unname(s$coefficients[, "Pr(>|z|)"]), hr_ci_low = unname(s$conf.int[, "lower .95"]),
      hr_ci_high = unname(s$conf.int[, "upper .95"]), loglik = f$loglik,
      lr_statistic = unname(s$logtest["test"]))
    f1 <- coxph(as.formula(paste("Surv(time, event) ~", xn[1])), data = d, ties = ties,
                control = coxph.control(eps = 1e-13, toler.chol = 1e-14, iter.max = 100))
    out[[paste0("cox1_", ties)]] <- list(coef = unname(coef(f1)), se = unname(sqrt(diag(vcov(f1)))))
  }
  cc <- concordance(Surv(time, event) ~ score, data = d, reverse = TRUE)
  out$concordance <- list(estimate = unname(cc$concordance), count = as.list(cc$count),
                          var = cc$var)
  out
}

cases <- list()
# 1. survival::lung (real data; tied times), complete cases of ph.ecog
lung2 <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
cases[[1]] <- case("lung", lung2$time, as.integer(lung2$status == 2), lung2$ph.ecog,
                   data.frame(age = lung2$age, sex = lung2$sex), lung2$age + 10 * lung2$ph.ecog)

# 2. synthetic DFS-like data, months rounded to integers (heavy ties), tied scores
set.seed(42)
n <- 150
score <- round(rnorm(n), 1)
grade <- sample(1:3, n, replace = TRUE)
t_ev <- rexp(n, 0.03 * exp(0.7 * score))
t_c <- runif(n, 6, 60)
time <- pmax(1, round(pmin(t_ev, t_c)))
event <- as.integer(t_ev <= t_c)
grp <- ifelse(score > 0, "high", "low")
cases[[2]] <- case("synthetic_ties", time, event, grp,
                   data.frame(score = score, grade = grade), score)

res <- list(generated_by = "tests/reference/survival.R", R_version = R.version.string,
            survival_version = as.character(packageVersion("survival")), cases = cases)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", na = "null"),
           "tests/reference/survival.json")
