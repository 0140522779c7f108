"""Agreement statistics against independent implementations, textbook cases and edge cases."""

import math
import random

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from labeling import agreement
from labeling.agreement import CATEGORIES, Ratings

TOLERANCE = 1e-9


def random_ratings(seed: int, units=60, labelers=6, coverage=0.6, skew=(0.2, 0.2, 0.6)):
    rng = random.Random(seed)
    triples = []
    for unit in range(units):
        truth = rng.choices(CATEGORIES, weights=skew)[0]
        for labeler in range(labelers):
            if rng.random() < coverage:
                value = truth if rng.random() < 0.7 else rng.choice(CATEGORIES)
                triples.append((unit, f"L{labeler}", value))
    return triples


def reliability_matrix(triples, units, labelers):
    matrix = np.full((labelers, units), np.nan)
    for unit, labeler, value in triples:
        matrix[int(labeler[1:]), unit] = value
    return matrix


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_alpha_matches_the_krippendorff_package(seed, level):
    triples = random_ratings(seed)
    expected = krippendorff.alpha(
        reliability_data=reliability_matrix(triples, 60, 6),
        level_of_measurement=level,
        value_domain=list(CATEGORIES),
    )
    got = agreement.krippendorff_alpha(Ratings.from_triples(triples), level)
    assert abs(got - expected) < TOLERANCE


@pytest.mark.parametrize("seed", range(20))
def test_pairwise_kappa_matches_scikit_learn(seed):
    triples = random_ratings(seed, labelers=4, coverage=0.8)
    by_labeler = {}
    for unit, labeler, value in triples:
        by_labeler.setdefault(labeler, {})[unit] = value
    pairs = agreement.pairwise_cohen_kappa(Ratings.from_triples(triples))
    assert len(pairs) == 6
    for pair in pairs:
        a, b = by_labeler[pair.labeler_a], by_labeler[pair.labeler_b]
        shared = sorted(set(a) & set(b))
        assert pair.n == len(shared)
        expected = cohen_kappa_score([a[u] for u in shared], [b[u] for u in shared])
        assert abs(pair.kappa - expected) < TOLERANCE


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_kappa_matches_statsmodels(seed):
    triples = random_ratings(seed, units=80, labelers=5, coverage=0.75)
    counts = {}
    for unit, _, value in triples:
        counts.setdefault(unit, [0, 0, 0])[CATEGORIES.index(value)] += 1
    sizes = [sum(c) for c in counts.values() if sum(c) >= 2]
    common = max(set(sizes), key=lambda s: (sizes.count(s), s))
    table = np.array([c for c in counts.values() if sum(c) == common])
    expected = sm_fleiss_kappa(table, method="fleiss")
    assert abs(agreement.fleiss_kappa(Ratings.from_triples(triples)) - expected) < TOLERANCE


@pytest.mark.parametrize("seed", range(10))
def test_percent_agreement_counts_pairs_by_brute_force(seed):
    triples = random_ratings(seed)
    by_unit = {}
    for unit, _, value in triples:
        by_unit.setdefault(unit, []).append(value)
    pairs = agree = 0
    for values in by_unit.values():
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                pairs += 1
                agree += values[i] == values[j]
    got = agreement.percent_agreement(Ratings.from_triples(triples))
    assert abs(got - agree / pairs) < TOLERANCE


def test_textbook_kappa_by_hand():
    # 10 units, two raters; p_o = 7/10. Marginals a: (-1:3, 0:3, 1:4), b: (-1:2, 0:4, 1:4)
    # p_e = (3*2 + 3*4 + 4*4)/100 = 0.34; kappa = (0.7 - 0.34) / 0.66
    a = [-1, -1, -1, 0, 0, 0, 1, 1, 1, 1]
    b = [-1, -1, 0, 0, 0, 1, 1, 1, 1, 0]
    assert abs(agreement.cohen_kappa(a, b) - 0.36 / 0.66) < TOLERANCE


def test_textbook_alpha_by_hand():
    # Two coders, four units: (1,1), (0,0), (1,0), (-1,-1). Coincidences (nominal):
    # o[1,1]=2, o[0,0]=2, o[-1,-1]=2, o[1,0]=o[0,1]=1; n=8, n_c = (-1:2, 0:3, 1:3)
    # D_o = 2/8; D_e = (2*3 + 2*3 + 3*3 ... off-diagonal sum) / (8*7) = (64 - 4 - 9 - 9)/56 = 42/56
    # alpha = 1 - (2/8) / (42/56) = 1 - 14/42 = 2/3
    triples = [
        (0, "a", 1),
        (0, "b", 1),
        (1, "a", 0),
        (1, "b", 0),
        (2, "a", 1),
        (2, "b", 0),
        (3, "a", -1),
        (3, "b", -1),
    ]
    assert abs(agreement.krippendorff_alpha(Ratings.from_triples(triples), "nominal") - 2 / 3) < (
        TOLERANCE
    )


def test_textbook_fleiss_by_hand():
    # 3 units x 3 raters: counts (3,0,0), (0,3,0), (1,1,1): P_i = 1, 1, 0; mean 2/3
    # p = (4/9, 4/9, 1/9); P_e = 33/81; kappa = (2/3 - 33/81) / (1 - 33/81) = 21/48
    triples = [
        (0, "a", -1),
        (0, "b", -1),
        (0, "c", -1),
        (1, "a", 0),
        (1, "b", 0),
        (1, "c", 0),
        (2, "a", -1),
        (2, "b", 0),
        (2, "c", 1),
    ]
    assert abs(agreement.fleiss_kappa(Ratings.from_triples(triples)) - 21 / 48) < TOLERANCE


def test_one_labeler_leaves_everything_undefined():
    ratings = Ratings.from_triples([(u, "solo", 1 if u % 2 else 0) for u in range(10)])
    assert agreement.krippendorff_alpha(ratings) is None
    assert agreement.percent_agreement(ratings) is None
    assert agreement.fleiss_kappa(ratings) is None
    assert agreement.pairwise_cohen_kappa(ratings) == []


def test_all_agree():
    triples = [(u, lab, v) for u, v in enumerate([1, 0, -1, 1]) for lab in "abc"]
    ratings = Ratings.from_triples(triples)
    assert agreement.krippendorff_alpha(ratings, "nominal") == 1.0
    assert agreement.krippendorff_alpha(ratings, "ordinal") == 1.0
    assert agreement.percent_agreement(ratings) == 1.0
    assert agreement.fleiss_kappa(ratings) == pytest.approx(1.0)
    assert all(p.kappa == pytest.approx(1.0) for p in agreement.pairwise_cohen_kappa(ratings))


def test_a_single_value_everywhere_makes_chance_corrected_statistics_undefined():
    ratings = Ratings.from_triples([(u, lab, 1) for u in range(5) for lab in "ab"])
    assert agreement.percent_agreement(ratings) == 1.0
    assert agreement.krippendorff_alpha(ratings) is None
    assert agreement.fleiss_kappa(ratings) is None
    assert agreement.pairwise_cohen_kappa(ratings)[0].kappa is None  # p_e = 1


def test_no_shared_units_and_kappa_below_two_units():
    ratings = Ratings.from_triples([(0, "a", 1), (1, "b", 0), (2, "a", 1), (2, "c", -1)])
    pairs = agreement.pairwise_cohen_kappa(ratings)
    assert [(p.labeler_a, p.labeler_b, p.kappa, p.n) for p in pairs] == [("a", "c", None, 1)]
    assert agreement.krippendorff_alpha(Ratings.from_triples([(0, "a", 1), (1, "b", 0)])) is None


def test_ordinal_alpha_punishes_far_disagreement_more_than_near():
    near = [(u, "a", 1) for u in range(6)] + [(u, "b", 1 if u < 4 else 0) for u in range(6)]
    far = [(u, "a", 1) for u in range(6)] + [(u, "b", 1 if u < 4 else -1) for u in range(6)]
    extra = [(10 + u, lab, -1) for u in range(3) for lab in "ab"]  # keep both codes in use
    near_alpha = agreement.krippendorff_alpha(Ratings.from_triples(near + extra), "ordinal")
    far_alpha = agreement.krippendorff_alpha(Ratings.from_triples(far + extra), "ordinal")
    assert near_alpha > far_alpha


def test_first_error_agreement():
    assert agreement.first_error_agreement([[2, 2, None], [None, None], [5]]) == 2 / 4
    assert agreement.first_error_agreement([[1]]) is None


@pytest.mark.parametrize("seed", range(5))
def test_first_error_agreement_on_arrays_equals_the_pairwise_definition(seed):
    rng = random.Random(seed)
    groups = [
        [rng.choice([None, 0, 1, 2, 7]) for _ in range(rng.randint(1, 5))] for _ in range(200)
    ]
    solutions = [s for s, group in enumerate(groups) for _ in group]
    firsts = [-1 if v is None else v for group in groups for v in group]
    order = list(range(len(solutions)))
    rng.shuffle(order)  # labelings of one solution need not be adjacent
    got = agreement.first_error_agreement_arrays(
        np.asarray([solutions[i] for i in order]), np.asarray([firsts[i] for i in order])
    )
    assert got == pytest.approx(agreement.first_error_agreement(groups), abs=1e-12)
    assert agreement.first_error_agreement_arrays(np.asarray([3]), np.asarray([-1])) is None
    assert agreement.first_error_agreement_arrays(np.zeros(0), np.zeros(0)) is None


def test_count_based_variants_equal_the_table_based_ones():
    ratings = Ratings.from_triples(random_ratings(11))
    counts = agreement.unit_counts(ratings)
    for level in ("ordinal", "nominal"):
        assert agreement.alpha_from_counts(counts, level) == agreement.krippendorff_alpha(
            ratings, level
        )
    assert agreement.percent_agreement_from_counts(counts) == agreement.percent_agreement(ratings)
    assert agreement.fleiss_kappa_from_counts(counts) == agreement.fleiss_kappa(ratings)
    assert counts.sum() == len(ratings)


def test_later_triple_replaces_earlier_for_the_same_unit_and_labeler():
    ratings = Ratings.from_triples([(0, "a", 1), (0, "a", -1), (0, "b", -1)])
    assert agreement.percent_agreement(ratings) == 1.0


def test_values_outside_the_scale_are_refused():
    with pytest.raises(ValueError):
        Ratings.from_triples([(0, "a", 2)])


def test_large_random_input_stays_exact():
    rng = np.random.default_rng(0)
    units, labelers = 3000, 12
    triples = [
        (int(u), f"L{int(who)}", int(v))
        for u, who, v in zip(
            rng.integers(0, units, 20000),
            rng.integers(0, labelers, 20000),
            rng.integers(-1, 2, 20000),
            strict=True,
        )
    ]
    ratings = Ratings.from_triples(triples)
    dedup = {(u, lab): v for u, lab, v in triples}
    matrix = np.full((labelers, units), np.nan)
    for (u, lab), v in dedup.items():
        matrix[int(lab[1:]), u] = v
    expected = krippendorff.alpha(
        reliability_data=matrix, level_of_measurement="ordinal", value_domain=[-1, 0, 1]
    )
    assert math.isclose(agreement.krippendorff_alpha(ratings), expected, abs_tol=TOLERANCE)
