"""Templated glaucoma-clinic notes for the synthetic stand-in.

Used by :mod:`fairnb.data.synthetic`.
"""
from __future__ import annotations

import numpy as np

from ..attributes import code_to_name

# Clinic notes. Variants are separated by "|". Body sentences come in
# document order; kinds: n any note, i informative notes, g / h informative
# notes stating glaucoma / no glaucoma, u uninformative notes only; G / H
# the assessment line, c the cup-to-disc ratio at its place in the exam.
# Informative notes come in two orders, as clinic notes do: the assessment
# first (opener stating the diagnosis, then the C/D; the later assessment
# line optional) or history-first SOAP order (a history opener, the C/D in
# the exam and the assessment line always kept, near the end).
_OPENERS = {
    1: "Patient is {a} {age} y/o {sex} with {dx} {ou}, here for {visit}."
       "|{age} year old {sex} with known {dx} {ou} presents for {visit}."
       "|Assessment: {dx}, {eyes}. {age} y/o {sex} seen for {visit}.",
    # Negative notes name the diagnosis "non-glaucoma" up front, as clinic
    # assessments and the GPT-4 summaries of the real data do, and say
    # "glaucoma" nowhere else: with "no glaucoma" and "glaucoma suspect"
    # phrasing a tiny CLIP reading 180 characters learned the prompts
    # inverted (zero-shot AUC 0.05).
    0: "Assessment: non-glaucoma exam, {eyes}. {age} y/o {sex} seen for "
       "{visit}.|Non-glaucoma exam: {age} year old {sex} seen for {visit},"
       " healthy optic nerves {ou}.|Patient is {a} {age} y/o {sex} with a "
       "non-glaucoma exam {ou}, here for {visit}.|Impression: "
       "non-glaucoma, {eyes}; {age} y/o {sex} here for {visit}.",
    None: "Patient is {a} {age} y/o {sex} here for {routine}.|{age} year old "
          "{sex} presents for {routine} and has no new complaints.|Routine "
          "visit: {age} y/o {sex} seen today for {routine}.",
}
#: History openers of SOAP-order notes: the visit reason, no diagnosis.
_HISTORY = ("{age} y/o {sex} presents for {visit}.|Patient is {a} {age} y/o "
            "{sex} here for {visit}.|{age} year old {sex} seen today for "
            "{visit}; no new ocular complaints.")
_CDR = ("C/D {c1} OD, {c2} OS.|Cup-to-disc ratio {c1} OD and {c2} OS."
        "|Vertical C/D ratio {c1}/{c2}.")
_BODY = (
    ("n", "Reports {cc}.|Chief complaint: {cc}."),
    ("n", "Denies eye pain, redness, flashes, floaters or recent changes in "
          "vision.|Review of systems negative for headache, eye pain or "
          "double vision."),
    ("n", "Past ocular history: {poh}.|Ocular history significant for "
          "{poh}."),
    ("n", "Medical history includes {pmh}; takes {sysmed} daily."
          "|PMH: {pmh}. Systemic medications reviewed and unchanged."),
    ("n", "Allergies: {allergy}."),
    ("g", "Family history of glaucoma in {relative}.|Positive family history"
          " of glaucoma ({relative})."),
    ("h", "Family history negative for eye disease and blindness.|No "
          "known family history of eye disease."),
    ("n", "Non-smoker, drinks alcohol socially and drives during the day."
          "|Former smoker who quit many years ago; lives with family."),
    ("n", "Visual acuity with correction 20/{va1} OD and 20/{va2} OS."
          "|VA cc 20/{va1} OD, 20/{va2} OS, pinhole no improvement."),
    ("i", "IOP {i1} mmHg OD, {i2} mmHg OS by applanation.|Intraocular "
          "pressure {i1}/{i2} mmHg by Goldmann tonometry."),
    ("u", "IOP {i1} and {i2} mmHg, within normal limits."),
    ("n", "Pupils equal, round and reactive to light without relative "
          "afferent pupillary defect."),
    ("n", "Extraocular movements full; confrontation fields full to finger "
          "counting in both eyes."),
    ("n", "Lids and lashes normal, conjunctiva white and quiet OU."),
    ("n", "Cornea clear without staining; anterior chamber deep and quiet "
          "OU."),
    ("n", "Lens: {lens} OU.|Lens exam: {lens} in both eyes."),
    ("i", "Gonioscopy shows open angles to the ciliary body band OU."
          "|Gonioscopy: angles open 360 degrees with mild trabecular "
          "pigment."),
    ("i", "Central corneal thickness {cct1} microns OD and {cct2} microns "
          "OS."),
    ("n", "Dilated with tropicamide and phenylephrine; vitreous clear, no "
          "hemorrhage."),
    ("c", _CDR),
    ("g", "Optic nerve shows {rim}, consistent with glaucomatous damage."
          "|Disc exam: {rim} in both eyes."),
    ("h", "Optic nerves pink and healthy with intact neuroretinal rim OU."
          "|Discs sharp with healthy rims, no hemorrhage or notching."),
    ("n", "Macula flat with good foveal reflex; retina attached 360 "
          "degrees."),
    ("i", "Humphrey 24-2 visual field: MD {md1} dB OD, {md2} dB OS, {vf}."
          "|Visual fields reliable, mean deviation {md1} dB OD and {md2} dB"
          " OS with {vf}."),
    ("i", "OCT RNFL average thickness {r1} microns OD and {r2} microns OS."
          "|OCT shows average RNFL {r1}/{r2} microns."),
    ("G", "Assessment: {dx}, {eyes}, {control}.|Impression: {dx} {ou}, "
          "{control}."),
    ("H", "Assessment: non-glaucoma, {hx}.|Impression: non-glaucoma "
          "exam; {hx}."),
    ("g", "Current drops: {meds}.|Continue {meds}; discussed adherence and "
          "drop technique."),
    ("h", "No eye drops needed.|No drops indicated at this time."),
    ("g", "Target IOP below {target} mmHg; consider SLT if the next field "
          "progresses.|Plan: continue current therapy, target IOP {target} "
          "mmHg or lower."),
    ("h", "Plan: monitor, no treatment indicated.|Reassured the patient "
          "that the optic nerves look healthy."),
    ("u", "Manifest refraction performed and a new glasses prescription "
          "given.|Refraction updated; single vision distance glasses with "
          "reading add +{add}."),
    ("u", "Discussed early cataract; patient prefers to wait until vision "
          "limits daily activities."),
    ("u", "For dry eye, recommend preservative-free artificial tears four "
          "times daily and warm compresses.|Contact lens fit good, lenses "
          "centered with full movement; replace monthly."),
    ("n", "Counseled on UV protection, healthy diet and regular exercise."
          "|Patient education materials provided and questions answered."),
    ("n", "Patient verbalized understanding and agrees with the plan."),
    ("g", "Follow up in {months1} months with repeat visual field and OCT."
          "|Return in {months1} months for an IOP check."),
    ("h", "Follow up in {months0} months for a routine exam.|Return in 1 "
          "year or sooner with any new symptoms."),
    ("u", "Return in 1 year for a routine eye exam.|Follow up in 1 year, "
          "sooner if vision changes."),
)
_CHOICES = {
    "visit1": "glaucoma follow-up|an IOP check|a visual field review"
              "|routine glaucoma care",
    "visit0": "a screening exam|a second opinion on elevated IOP"
              "|an annual eye exam",
    "routine": "a routine eye exam|refraction|a contact lens check"
               "|dry eye follow-up|cataract evaluation",
    "type": "primary open-angle glaucoma|POAG|normal-tension glaucoma"
            "|pigmentary glaucoma|pseudoexfoliation glaucoma"
            "|chronic angle-closure glaucoma",
    "cc": "no new complaints|mild blur at near|occasional dryness and "
          "burning|glare when driving at night|tearing in cold weather",
    "poh": "cataract surgery in the right eye|LASIK years ago|dry eye"
           "|moderate myopia|no prior eye surgery",
    "pmh": "hypertension|type 2 diabetes|hyperlipidemia|sleep apnea"
           "|hypothyroidism",
    "sysmed": "lisinopril|metformin|atorvastatin|amlodipine|levothyroxine",
    "allergy": "no known drug allergies|sulfa|penicillin|latex",
    "relative": "mother|father|a sibling|grandmother",
    "lens": "clear|1+ nuclear sclerosis|2+ nuclear sclerosis"
            "|posterior chamber IOL",
    "rim": "inferior rim thinning|a superior notch|diffuse rim thinning"
           "|a disc hemorrhage with inferior notching",
    "control": "IOP at target|IOP above target|stable on current drops"
               "|slowly progressing on fields",
    "hx": "optic nerves and fields normal|ocular hypertension without "
          "nerve damage|physiologic cupping",
    "ou": "OU|OD>OS|OS>OD", "va": "20|20|25|30|40", "add": "2.00|2.50",
    "months1": "3|4|6", "months0": "6|12", "target": "14|15|16|18",
    "vf": "a superior arcuate defect|an inferior nasal step|a paracentral "
          "defect",
}
_EYES = {"OU": "both eyes", "OD>OS": "right eye worse than left",
         "OS>OD": "left eye worse than right"}
_ADD_ONS = ("timolol 0.5% bid", "brimonidine 0.2% tid",
            "dorzolamide 2% tid")


def _pick(rng: np.random.Generator, options: str) -> str:
    """One of the "|"-separated ``options``."""
    parts = options.split("|")
    return parts[rng.integers(len(parts))]


def _note_values(rng: np.random.Generator, row: dict) -> dict:
    """Fill-ins of one note; measurements follow the true label."""
    v = {k: _pick(rng, opts) for k, opts in _CHOICES.items()}
    md, cdr = row["md"], row["cdr"]
    stage = "mild" if md > -6 else "moderate" if md > -12 else "severe"
    v.update(age=int(row["age"]), dx=f"{stage} {v['type']}",
             a="an" if int(row["age"]) in (18, *range(80, 90)) else "a",
             sex=code_to_name("gender", row["gender"]).lower(),
             va1=v["va"], va2=_pick(rng, _CHOICES["va"]),
             meds=" and ".join([_pick(rng, "latanoprost 0.005% qhs|"
                                      "bimatoprost 0.01% qhs"),
                                *rng.choice(_ADD_ONS, rng.integers(3),
                                            replace=False)]))
    c2 = np.clip(cdr + rng.normal(0, .04), .1, .95)
    v["c1"], v["c2"] = (f"{round(c * 20) / 20:.2f}".rstrip("0")
                        for c in (cdr, c2))
    iop = rng.normal(19 if row["glaucoma"] else 15, 3, 2)
    v["i1"], v["i2"] = np.clip(iop.round(), 8, 40).astype(int)
    v["md1"], v["md2"] = f"{md:.1f}", f"{md + rng.normal(0, 1.5):.1f}"
    v["vf"] = v["vf"] if md < -3 else "no field defect"
    v["r1"], v["r2"] = (100 - 70 * (cdr - .42) + rng.normal(0, 5, 2)
                        ).round().astype(int)
    v["cct1"], v["cct2"] = (rng.normal(545, 30) + rng.normal(0, 8, 2)
                            ).round().astype(int)
    return v


def write_note(rng: np.random.Generator, row: dict) -> tuple[str, str]:
    """A clinic note of 11-332 words and a short medication line.

    The stated diagnosis is the label, flipped when ``row["note_flipped"]``
    and absent from uninformative notes. It opens the note when
    ``row["note_assessment_first"]`` (default True); otherwise the note
    follows SOAP order and states it in the assessment near the end, past
    the 180 characters a truncating reader keeps.
    """
    v = _note_values(rng, row)
    stated = (int(row["glaucoma"]) ^ int(row["note_flipped"])
              if row["note_informative"] else None)
    first = stated is not None and row.get("note_assessment_first", True)
    v["visit"] = v["visit1"] if stated == 1 else v["visit0"]
    v["ou"] = v["ou"] if stated == 1 else "OU"
    v["eyes"] = _EYES[v["ou"]]
    if stated is None:
        kinds, forced, head = {"n", "u"}, set(), [_OPENERS[None]]
    else:
        kinds = {"n", "i", "gh"[1 - stated], "GH"[1 - stated]}
        forced = set() if first else {"c", "GH"[1 - stated]}
        head = [_OPENERS[stated], _CDR] if first else [_HISTORY]
    head = [_pick(rng, t).format(**v) for t in head]
    body = [(k, _pick(rng, t).format(**v)) for k, t in _BODY
            if k in kinds | forced]
    size = [len(s.split()) for _, s in body]
    keep = np.array([k in forced for k, _ in body], bool)
    words = sum(len(s.split()) for s in head) + sum(np.compress(keep, size))
    target = rng.gamma(4.0, 40.0)
    for i in rng.permutation(len(body)):
        if not keep[i] and (words + size[i] <= min(target, 332)
                            or words < 11):
            keep[i], words = True, words + size[i]
    note = " ".join(head + [s for (_, s), k in zip(body, keep) if k])
    drops = v["meds"] if stated == 1 else "no eye drops"
    return note, f"Medications: {drops}; {v['sysmed']}. " \
                 f"Allergies: {v['allergy']}."


def sample_notes(n: int, *, seed: int = 0, informative: float = 0.85,
                 assessment_first: float = 0.5):
    """``n`` notes of random patients without images: a DataFrame with
    ``note``, ``label``, ``informative`` and ``assessment_first`` (tests
    and benchmarks of the summarizers)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(2))
        row = dict(glaucoma=label, note_flipped=0,
                   note_informative=bool(rng.random() < informative),
                   note_assessment_first=bool(rng.random()
                                              < assessment_first),
                   age=int(rng.integers(20, 89)), gender=int(rng.integers(2)),
                   md=float(rng.normal(-6 if label else -1, 3)),
                   cdr=float(np.clip(rng.normal(.65 if label else .4, .08),
                                     .1, .95)))
        rows.append((write_note(rng, row)[0], label, row["note_informative"],
                     row["note_assessment_first"]))
    return pd.DataFrame(rows, columns=["note", "label", "informative",
                                       "assessment_first"])
