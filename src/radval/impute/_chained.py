"""Multiple imputation by chained equations (MICE), deterministic for a seed.

The algorithm is R ``mice``'s (van Buuren & Groothuis-Oudshoorn 2011) with its default
univariate methods; the kernels in ``_kernels`` reproduce mice's regression steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from radval._validation import check_choice, check_positive_int, param_error
from radval.exceptions import InputError, NotFittedError
from radval.impute._frame import (
    ColumnSpec,
    column_specs,
    decode_frame,
    design_block,
    encode_values,
)
from radval.impute._kernels import (
    _chol_lower,
    augment,
    categorical_probabilities,
    draw_categories,
    draw_norm,
    fit_multinomial,
    pmm_match,
)

__all__ = ["ChainedImputer"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Methods allowed per column kind; the first is the default (mice's defaults).
METHODS: dict[str, tuple[str, ...]] = {
    "numeric": ("pmm", "norm"),
    "binary": ("logreg", "pmm"),
    "categorical": ("polyreg",),
}


def _seed_from(rng: int | np.random.Generator | None, caller: str) -> int:
    if rng is None:
        return int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63 - 1))
    if isinstance(rng, bool) or not isinstance(rng, int | np.integer) or rng < 0:
        raise param_error("rng", caller, "a non-negative int, a numpy Generator or None", rng)
    return int(rng)


@dataclass
class _Model:
    """A fitted conditional model of one variable in one chain (used by ``transform``)."""

    method: str
    beta: FloatArray
    coef: FloatArray | None = None
    sigma: float = 0.0
    donors: int = 5
    yhat_obs: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    y_obs: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)


class _Design:
    """Predictor design of every variable from the current (completed) codes."""

    def __init__(self, specs: list[ColumnSpec], outcome: FloatArray | None) -> None:
        self.specs = specs
        self.outcome = outcome
        self.slices: list[slice] = []
        start = 0
        for s in specs:
            self.slices.append(slice(start, start + s.n_design))
            start += s.n_design
        self.width = start

    def full(self, values: FloatArray) -> FloatArray:
        blocks = [design_block(values[:, j], s) for j, s in enumerate(self.specs)]
        return np.hstack(blocks) if blocks else np.empty((values.shape[0], 0))

    def update(self, design: FloatArray, values: FloatArray, j: int) -> None:
        design[:, self.slices[j]] = design_block(values[:, j], self.specs[j])

    def predictors(self, design: FloatArray, j: int, outcome: FloatArray | None
                   ) -> FloatArray:
        """Predictors of variable ``j``: every other variable (and the outcome), no intercept."""
        keep = np.ones(self.width, dtype=bool)
        keep[self.slices[j]] = False
        x = design[:, keep]
        if outcome is not None:
            x = np.column_stack([x, outcome])
        return x


def _fit_and_draw(method: str, spec: ColumnSpec, x: FloatArray, y: FloatArray,
                  obs: BoolArray, rng: np.random.Generator, donors: int) -> _Model:
    """Fit variable ``y`` on predictors ``x`` (no intercept) over ``obs``; draw parameters."""
    xi = np.column_stack([np.ones(x.shape[0]), x])
    if method in ("pmm", "norm"):
        coef, beta, sigma = draw_norm(xi[obs], y[obs], rng)
        if method == "norm":
            return _Model(method=method, beta=beta, sigma=sigma)
        return _Model(method=method, beta=beta, coef=coef, donors=donors,
                      yhat_obs=xi[obs] @ coef, y_obs=y[obs].copy())
    k = len(spec.levels)
    if k < 2:
        return _Model(method="constant", beta=np.zeros(0))
    d, e, w = augment(y, x, np.arange(k))
    xa = np.vstack([xi[obs], np.column_stack([np.ones(e.size), d])]) if e.size else xi[obs]
    ya = np.concatenate([y[obs], e]).astype(np.int64)
    wa = np.concatenate([np.ones(int(obs.sum())), w])
    coef, cov = fit_multinomial(xa, ya, wa, k)
    theta = coef.T.ravel() + _chol_lower(cov) @ rng.standard_normal(cov.shape[0])
    return _Model(method=method, beta=theta.reshape(k - 1, -1).T)


def _impute(model: _Model, x: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Imputed codes/values for the rows of ``x`` (predictors without intercept)."""
    xi = np.column_stack([np.ones(x.shape[0]), x])
    if model.method == "constant":
        return np.zeros(x.shape[0])
    if model.method == "norm":
        return np.asarray(xi @ model.beta + rng.standard_normal(x.shape[0]) * model.sigma)
    if model.method == "pmm":
        idx = pmm_match(model.yhat_obs, xi @ model.beta, model.donors, rng)
        return np.asarray(model.y_obs[idx])
    prob = categorical_probabilities(xi, model.beta)
    return draw_categories(prob, rng).astype(np.float64)


class ChainedImputer:
    """Multiple imputation by chained equations (MICE) of a table of predictors.

    Parameters
    ----------
    n_imputations : int, optional
        Number of completed data sets ``m`` (default 20).
    max_iter : int, optional
        Sweeps over the incomplete variables per chain (default 10).
    method : str or mapping, optional
        Univariate method, for all columns of a kind or per column name.  Numeric:
        ``"pmm"`` (predictive mean matching, default; imputes observed values, so it
        keeps bounds, skew and integer values) or ``"norm"`` (Bayesian linear
        regression draw).  Binary non-numeric: ``"logreg"`` (default) or ``"pmm"`` on
        the 0/1 codes.  Three or more categories: ``"polyreg"``.
    donors : int, optional
        PMM donor pool size (mice default 5).
    visit_sequence : {"roman", "monotone"}, optional
        Column order (default) or increasing number of missing values.
    n_jobs : int, optional
        Chains run in this many threads; the result does not depend on it.
    rng : int, numpy.random.Generator or None, optional
        Seed.  Chain ``j`` uses the ``j``-th child of ``numpy.random.SeedSequence(seed)``,
        so the imputations depend only on the seed, never on ``n_jobs`` or the order in
        which chains run.

    Attributes
    ----------
    columns_ : list of str
    kinds_ : dict
        ``column -> "numeric" | "binary" | "categorical"``.
    method_ : dict
        ``column -> method`` actually used.
    incomplete_ : list of str
        Columns with missing values in ``fit``, in visit order.
    n_missing_ : dict
        ``column -> number of missing values`` in ``fit``.
    chain_mean_ : pandas.DataFrame
        Convergence diagnostics: ``imputation, iteration, variable, mean, sd`` of the
        imputed values of each incomplete numeric variable (mice's ``chainMean``);
        plot ``mean`` by ``iteration`` per imputation to check mixing.

    Notes
    -----
    Each chain starts from random draws of the observed values of each variable
    (mice's initialisation), then visits each incomplete variable in turn: its model
    is fitted on the rows where it is observed, with every other variable (their
    current imputations) and the ``outcome`` as predictors, parameters are drawn from
    their approximate posterior, and the missing values are replaced by draws.

    * ``pmm`` / ``norm``: :math:`\\sigma^{*2} = RSS/\\chi^2_{n_{obs}-p}`,
      :math:`\\beta^* \\sim N(\\hat\\beta, \\sigma^{*2}(X^\\top X)^{-1})`
      (``mice.impute.norm``); PMM then matches :math:`X_{mis}\\beta^*` to
      :math:`X_{obs}\\hat\\beta` and takes the observed value of one of the ``donors``
      closest cases (``mice.impute.pmm``, type-1 matching).
    * ``logreg`` / ``polyreg``: a (multinomial) logistic regression on the observed
      rows plus mice's ``augment()`` pseudo-observations (protection against perfect
      prediction), :math:`\\theta^* \\sim N(\\hat\\theta, I^{-1})`, and a category drawn
      from the predicted probabilities.  For two categories this is
      ``mice.impute.logreg``.  ``polyreg`` deviates from mice (which fits
      ``nnet::multinom`` and does not draw the parameters): drawing them makes the
      imputation proper, as for the binary case.

    Include the outcome in the development imputation (``fit(frame, outcome=y)``):
    imputing predictors without it biases their coefficients towards zero (Moons et
    al. 2006).  Do **not** use such an imputer to impute new patients whose outcome
    is unknown; :class:`DeploymentImputer` is fitted without the outcome for that.

    ``transform`` imputes new rows with each chain's final conditional models (fitted
    on that chain's completed training data), iterating ``max_iter`` sweeps over the
    new rows only; training rows are never changed.

    The fitted object keeps the training data (PMM donors) in memory and has no JSON
    form on purpose: it belongs to the development analysis.  What travels to other
    sites is a :class:`DeploymentImputer`.

    References
    ----------
    .. [1] van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate Imputation by
       Chained Equations in R. J Stat Softw. 2011;45(3):1-67.
    .. [2] van Buuren S. Flexible Imputation of Missing Data. 2nd ed. CRC; 2018, §3.4
       (predictive mean matching) and §3.6 (categorical data).
    .. [3] Moons KGM, Donders RART, Stijnen T, Harrell FE. Using the outcome for
       imputation of missing predictor values was preferred. J Clin Epidemiol.
       2006;59(10):1092-1101.
    .. [4] White IR, Daniel R, Royston P. Avoiding bias due to perfect prediction in
       multiple imputation of incomplete categorical variables. Comput Stat Data
       Anal. 2010;54(10):2267-2275.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from radval.impute import ChainedImputer
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"age": rng.normal(60, 8, 50).round(),
    ...                    "size": rng.gamma(2.0, 10.0, 50)})
    >>> df.loc[::7, "size"] = np.nan
    >>> done = ChainedImputer(n_imputations=3, max_iter=5, rng=1).fit_transform(df)
    >>> len(done), int(done[0]["size"].isna().sum())
    (3, 0)
    """

    def __init__(self, *, n_imputations: int = 20, max_iter: int = 10,
                 method: str | Mapping[str, str] | None = None, donors: int = 5,
                 visit_sequence: str = "roman", n_jobs: int = 1,
                 rng: int | np.random.Generator | None = None) -> None:
        self.n_imputations = n_imputations
        self.max_iter = max_iter
        self.method = method
        self.donors = donors
        self.visit_sequence = visit_sequence
        self.n_jobs = n_jobs
        self.rng = rng

    # ------------------------------------------------------------------ checks
    def _check_params(self, caller: str) -> None:
        check_positive_int(self.n_imputations, caller=caller, param="n_imputations")
        check_positive_int(self.max_iter, caller=caller, param="max_iter")
        check_positive_int(self.donors, caller=caller, param="donors")
        check_positive_int(self.n_jobs, caller=caller, param="n_jobs")
        check_choice(self.visit_sequence, ("roman", "monotone"), caller=caller,
                     param="visit_sequence")

    def _methods(self, specs: list[ColumnSpec], caller: str) -> dict[str, str]:
        chosen: dict[str, str] = {}
        per_column = isinstance(self.method, Mapping)
        if per_column:
            unknown = sorted(set(self.method) - {s.name for s in specs})  # type: ignore[arg-type]
            if unknown:
                raise param_error("method", caller, "a mapping of column names of 'frame'",
                                  unknown)
        for s in specs:
            allowed = METHODS[s.kind]
            if self.method is None:
                m = allowed[0]
            elif per_column:
                m = self.method.get(s.name, allowed[0])  # type: ignore[union-attr]
            else:
                m = self.method if self.method in allowed else allowed[0]
                if self.method not in {x for v in METHODS.values() for x in v}:
                    raise param_error("method", caller, "one of 'pmm', 'norm', 'logreg', "
                                      "'polyreg' (or a per-column mapping)", self.method)
            if m not in allowed:
                raise param_error("method", caller, f"one of {list(allowed)} for {s.kind} "
                                  f"column {s.name!r}", m)
            chosen[s.name] = m
        return chosen

    @staticmethod
    def _outcome(outcome: Any, n: int, caller: str) -> FloatArray | None:
        if outcome is None:
            return None
        arr = np.asarray(outcome.to_numpy() if isinstance(outcome, pd.DataFrame | pd.Series)
                         else outcome)
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise param_error("outcome", caller, "numeric (e.g. 0/1 events; for survival "
                              "the event indicator and the cumulative hazard)",
                              str(arr.dtype)) from exc
        arr = arr.reshape(n, -1) if arr.size == n or (arr.ndim == 2 and arr.shape[0] == n) \
            else arr
        if arr.ndim != 2 or arr.shape[0] != n:
            msg = (f"The 'outcome' parameter of {caller} must have one value (row) per row of "
                   f"'frame'. Got shape {np.shape(outcome)} for {n} rows instead.")
            raise InputError(msg)
        if not np.isfinite(arr).all():
            raise param_error("outcome", caller, "complete (patients without outcome cannot "
                              "enter the development imputation)",
                              f"{int((~np.isfinite(arr)).sum())} missing value(s)")
        return arr

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, *, outcome: Any = None) -> ChainedImputer:
        """Run ``n_imputations`` chains on ``frame`` (keeps the completed data sets).

        Parameters
        ----------
        frame : pandas.DataFrame
            Predictors with missing values (NaN/None/pd.NA).  Numeric columns,
            and non-numeric (str, bool, category) columns with up to 50 levels.
        outcome : array-like, shape (n,) or (n, q), optional
            Complete outcome column(s) used as predictors in every imputation model.

        Returns
        -------
        ChainedImputer
            ``self``.

        Raises
        ------
        InputError
            Zero rows, a column missing for every row, an unsupported column (dates,
            identifiers, mixed types), a bad method, an incomplete outcome.
        """
        caller = "ChainedImputer.fit"
        self._check_params(caller)
        specs = column_specs(frame, caller)
        methods = self._methods(specs, caller)
        n = frame.shape[0]
        y = self._outcome(outcome, n, caller)
        values, miss = encode_values(frame, specs, caller)
        n_miss = miss.sum(axis=0)
        order = [j for j in range(len(specs)) if n_miss[j] > 0]
        if self.visit_sequence == "monotone":
            order = sorted(order, key=lambda j: (n_miss[j], j))
        self._seed = _seed_from(self.rng, caller)
        self._specs = specs
        self._design = _Design(specs, y)
        self._uses_outcome = y is not None
        self._outcome_width = 0 if y is None else y.shape[1]
        self.columns_ = [s.name for s in specs]
        self.kinds_ = {s.name: s.kind for s in specs}
        self.method_ = methods
        self.incomplete_ = [specs[j].name for j in order]
        self.n_missing_ = {s.name: int(n_miss[j]) for j, s in enumerate(specs)}
        self._order = order
        self._values = values
        self._miss = miss
        self._index = frame.index
        self._outcome_values = y
        children = np.random.SeedSequence(self._seed).spawn(self.n_imputations)
        jobs = [np.random.default_rng(c) for c in children]
        if self.n_jobs > 1 and self.n_imputations > 1:
            with ThreadPoolExecutor(max_workers=self.n_jobs) as pool:
                results = list(pool.map(self._chain, jobs))
        else:
            results = [self._chain(g) for g in jobs]
        self._completed = [r[0] for r in results]
        rows = [dict(imputation=i, **row) for i, r in enumerate(results) for row in r[1]]
        self.chain_mean_ = pd.DataFrame(
            rows, columns=["imputation", "iteration", "variable", "mean", "sd"])
        self._transform_models: dict[int, list[_Model]] = {}
        return self

    def _chain(self, rng: np.random.Generator) -> tuple[FloatArray, list[dict[str, Any]]]:
        values = self._values.copy()
        miss = self._miss
        for j in self._order:
            obs_vals = values[~miss[:, j], j]
            values[miss[:, j], j] = rng.choice(obs_vals, size=int(miss[:, j].sum()))
        design = self._design.full(values)
        trace: list[dict[str, Any]] = []
        y = self._outcome_values
        for it in range(self.max_iter):
            for j in self._order:
                spec = self._specs[j]
                x = self._design.predictors(design, j, y)
                obs = ~miss[:, j]
                model = _fit_and_draw(self.method_[spec.name], spec, x, values[:, j], obs,
                                      rng, self.donors)
                values[miss[:, j], j] = _impute(model, x[miss[:, j]], rng)
                self._design.update(design, values, j)
                if spec.kind == "numeric":
                    imp = values[miss[:, j], j]
                    trace.append({"iteration": it + 1, "variable": spec.name,
                                  "mean": float(imp.mean()),
                                  "sd": float(imp.std(ddof=1)) if imp.size > 1 else np.nan})
        return values, trace

    def _check_fitted(self, caller: str) -> None:
        if not hasattr(self, "_completed"):
            msg = f"{caller}: this ChainedImputer is not fitted; call fit() first."
            raise NotFittedError(msg)

    @property
    def imputations_(self) -> list[pd.DataFrame]:
        """The ``m`` completed training data sets (copies)."""
        self._check_fitted("ChainedImputer.imputations_")
        return [decode_frame(v, self._specs, self._index) for v in self._completed]

    def fit_transform(self, frame: pd.DataFrame, *, outcome: Any = None) -> list[pd.DataFrame]:
        """Fit on ``frame`` and return its ``m`` completed versions (mice's ``complete``)."""
        return self.fit(frame, outcome=outcome).imputations_

    # ------------------------------------------------------------------ transform
    def _models_for(self, chain: int, rng: np.random.Generator) -> list[_Model]:
        cached = self._transform_models.get(chain)
        if cached is not None:
            return cached
        values = self._completed[chain]
        design = self._design.full(values)
        models = []
        for j, spec in enumerate(self._specs):
            x = self._design.predictors(design, j, self._outcome_values)
            models.append(_fit_and_draw(self.method_[spec.name], spec, x, values[:, j],
                                        ~self._miss[:, j], rng, self.donors))
        self._transform_models[chain] = models
        return models

    def transform(self, frame: pd.DataFrame, *, outcome: Any = None) -> list[pd.DataFrame]:
        """Impute new rows with the fitted chains; one completed frame per imputation.

        Parameters
        ----------
        frame : pandas.DataFrame
            New rows with the fitted columns (others are ignored).
        outcome : array-like, optional
            Required if and only if the imputer was fitted with an outcome.

        Returns
        -------
        list of pandas.DataFrame
            ``n_imputations`` completed frames (the fitted columns, ``frame``'s index).
        """
        caller = "ChainedImputer.transform"
        self._check_fitted(caller)
        if not isinstance(frame, pd.DataFrame) or frame.shape[0] == 0:
            raise param_error("frame", caller, "a non-empty pandas DataFrame",
                              getattr(frame, "shape", type(frame).__name__))
        n = frame.shape[0]
        y = self._outcome(outcome, n, caller)
        if self._uses_outcome != (y is not None) or \
                (y is not None and y.shape[1] != self._outcome_width):
            need = "the outcome used in fit" if self._uses_outcome else "None (fitted without)"
            raise param_error("outcome", caller, need, None if y is None else y.shape)
        values, miss = encode_values(frame, self._specs, caller)
        todo = [j for j in range(len(self._specs)) if miss[:, j].any()]
        seeds = np.random.SeedSequence([self._seed, 1]).spawn(self.n_imputations)
        out = []
        for chain, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            models = self._models_for(chain, np.random.default_rng(
                np.random.SeedSequence([self._seed, 2, chain])))
            vals = values.copy()
            for j in todo:
                train = self._values[~self._miss[:, j], j]
                vals[miss[:, j], j] = rng.choice(train, size=int(miss[:, j].sum()))
            design = self._design.full(vals)
            for _ in range(self.max_iter if todo else 0):
                for j in todo:
                    x = self._design.predictors(design, j, y)
                    vals[miss[:, j], j] = _impute(models[j], x[miss[:, j]], rng)
                    self._design.update(design, vals, j)
            out.append(decode_frame(vals, self._specs, frame.index))
        return out

    def __repr__(self) -> str:
        return (f"ChainedImputer(n_imputations={self.n_imputations}, max_iter={self.max_iter}, "
                f"method={self.method!r}, donors={self.donors})")


def complete_case_rows(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> BoolArray:
    """Rows without a missing value in ``columns`` (all by default): complete-case analysis."""
    sub = frame if columns is None else frame[list(columns)]
    return np.asarray(sub.notna().all(axis=1).to_numpy(), dtype=bool)
