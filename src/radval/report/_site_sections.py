"""Sections of a site's report (``radval validate``): dataset shift, model updating and the
origin of the bundle, from the typed site results (``shift``, ``updating``,
``bundle.origin``).  They return nothing for a development run.  Each builder follows
the protocol of :mod:`radval.report._sections`; :data:`SECTIONS` lists them.
"""

from __future__ import annotations

import math

import pandas as pd

from radval.report._escape import md_text
from radval.report._sections import Section, SectionContext, SectionSpec
from radval.report.tables import fmt_num

__all__ = ["INTERNAL_USE_NOTICE", "SECTIONS"]

#: First paragraph of the site report: it is not anonymised and stays at the site.
INTERNAL_USE_NOTICE = ("**For internal use at this site.** This report shows the site's "
                       "results without small-cell suppression; do not send it outside the "
                       "site. Only share.json is meant to leave the site.")


def _percent(x: float | None) -> str:
    # a bundle of radval < 0.2 has no q05/q95: the share is undefined
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def _g(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.4g}"


def shift(ctx: SectionContext) -> Section | None:
    """Dataset shift of the site against the development cohort."""
    sh = ctx.results.shift
    if sh is None:
        return None
    w = ctx.writer()
    w.h(1, "Dataset shift against the development cohort", "sec-shift")
    # "5-95%": the development 5% and 95% quantiles (radval.models.shift), a fixed range
    # and not a confidence interval: not the run's level
    w.p("Standardised mean difference (SMD, pooled SD) of each selected feature and the "
        "share of values outside the development 5-95% range (local-mean quantiles; about "
        f"10% without shift). Features are flagged when |SMD| > {sh.smd_threshold:g} or more "
        f"than {100 * sh.out_of_range_threshold:.0f}% fall outside the range, the pattern of "
        "a different scanner or protocol.")
    w.table(pd.DataFrame({
        "Feature": [f.feature for f in sh.features],
        "Development mean": [_g(f.dev_mean) for f in sh.features],
        "Site mean": [_g(f.val_mean) for f in sh.features],
        "SMD": [fmt_num(f.smd, 2) for f in sh.features],
        "Outside development 5-95%": [_percent(f.share_outside_q05_q95) for f in sh.features],
        "Flagged": ["yes" if f.flagged else "" for f in sh.features]}),
        "tbl-shift", "Dataset-shift diagnostics of the selected features.")
    pr, pv = sh.predicted_risk, sh.prevalence
    text = []
    if pr.get("val_mean") is not None and pr.get("dev_mean") is not None:
        text.append(f"Mean predicted risk: development {fmt_num(pr['dev_mean'], 3)}, this "
                    f"site {fmt_num(pr['val_mean'], 3)} (SMD {fmt_num(pr.get('smd'), 2)}).")
    if pv.get("validation") is not None and pv.get("development") is not None:
        text.append(f"Outcome prevalence: development {fmt_num(pv['development'], 3)}, this "
                    f"site {fmt_num(pv['validation'], 3)}.")
    w.p(" ".join(text))
    return w.section()


def updating(ctx: SectionContext) -> Section | None:
    """The original model beside its recalibrated versions."""
    up = ctx.results.updating
    if up is None:
        return None
    w = ctx.writer()
    w.h(1, "Model updating (beside the original model)", "sec-updating")
    w.p("Recalibration-in-the-large re-estimates the intercept with the frozen linear "
        "predictor as offset; logistic recalibration re-estimates intercept and slope. "
        "Calibration of the updated models is apparent (estimated in the same data). The "
        "original model is the one validated.")
    names = {"original": "Original model", "recalibrated_citl": "Recalibrated in the large",
             "recalibrated_logistic": "Logistic recalibration"}
    w.table(pd.DataFrame({
        "Model": [names.get(r.model, r.model) for r in up.comparison],
        "AUC": [fmt_num(r.auc, 3) for r in up.comparison],
        "CITL": [fmt_num(r.citl, 3) for r in up.comparison],
        "Slope": [fmt_num(r.slope, 3) for r in up.comparison],
        "Brier": [fmt_num(r.brier, 3) for r in up.comparison],
        "O/E": [fmt_num(r.o_e_ratio, 3) for r in up.comparison]}),
        "tbl-updating", "Original and updated models.")
    w.p(f"Recalibration-in-the-large: intercept {up.citl_intercept:.3f} (SE "
        f"{up.citl_intercept_se:.3f}). Logistic recalibration: intercept "
        f"{up.logistic_intercept:.3f} (SE {up.logistic_intercept_se:.3f}), slope "
        f"{up.logistic_slope:.3f} (SE {up.logistic_slope_se:.3f}).")
    return w.section()


def origin(ctx: SectionContext) -> Section | None:
    """Who made the bundle, as far as its signature tells."""
    b = ctx.results.bundle
    o = b.origin if b is not None else None
    if o is None:
        return None
    w = ctx.writer()
    w.h(1, "Origin of the bundle", "sec-origin")
    if o.verified:
        w.p("The bundle carries an Ed25519 signature that was verified with the trusted "
            f"public key of fingerprint (SHA-256) {md_text(o.key_fingerprint)}: it was made "
            "by the holder of the matching private key and no file changed since it was "
            "signed.")
    else:
        text = ("**The origin of the bundle is unverified.** No trusted public key was "
                "given, so nothing shows who made the bundle or that it was not changed on "
                "the way; its checksums only catch accidental damage. Run radval validate "
                f"with the option {md_text('--trusted-key')} and the developers' public key "
                "to verify it.")
        if o.signed:
            text += (" The bundle carries a signature naming key "
                     f"{md_text(o.claimed_fingerprint)}, which was not checked.")
        w.p(text)
    return w.section()


SECTIONS = (
    SectionSpec(key="site-shift", build=shift, placement="main", order=80),
    SectionSpec(key="site-updating", build=updating, placement="main", order=82),
    SectionSpec(key="site-origin", build=origin, placement="main", order=84),
)
