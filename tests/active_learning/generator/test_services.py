"""Generating, storing and grading candidate solutions with a tiny model (CPU, no downloads)."""

import pytest

from active_learning.generator import services
from active_learning.generator.sampling import GeneratorError, sample_batches
from labeling.errors import ApplicationError
from labeling.models import Grading, Solution
from tests.active_learning.generator.conftest import tiny_generator
from tests.factories import LabelingFactory, ProblemFactory, ProjectFactory, SolutionFactory

pytestmark = pytest.mark.django_db

FAST = {"samples_per_problem": 3, "max_new_tokens": 12, "batch_size": 4, "seed": 7}


def options(**overrides):
    return services.generator_options({"model": "tiny", **FAST, **overrides})


def test_batches_are_seeded_so_a_generation_repeats_exactly():
    """Same seed and batch size: the same texts; another seed: other texts (catches sampling
    that ignores the recorded seed, which would make a run impossible to reproduce)."""
    model, tokenizer = tiny_generator()
    prompts = ["Problem: 1+1", "Problem: 2+2"]

    def run(seed):
        kwargs = dict(n=3, temperature=1.0, top_p=1.0, max_new_tokens=8, batch_size=4)
        return [
            (s.prompt_index, s.text, s.seed)
            for batch in sample_batches(model, tokenizer, prompts, seed=seed, **kwargs)
            for s in batch
        ]

    first = run(5)
    assert first == run(5)
    assert [i for i, _, _ in first] == [0, 0, 0, 1, 1, 1]
    assert [seed for _, _, seed in first] == [5, 5, 5, 5, 6, 6]  # batch b: seed + b
    assert [t for _, t, _ in first] != [t for _, t, _ in run(6)]


def test_generate_stores_n_candidates_per_problem_with_their_record():
    """Every sample is accounted for (stored, duplicate, or without steps), and each stored
    one records its generator, parameters and seed (catches a solution that cannot be traced
    to the run and settings that made it)."""
    project = ProjectFactory()
    problems = [ProblemFactory(project=project) for _ in range(2)]
    figures = services.solutions_generate(
        project=project, options=options(), model=tiny_generator(), run_id=None
    )
    assert figures["problems"] == 2 and figures["requested"] == 6 and figures["sampled"] == 6
    assert figures["stored"] + figures["duplicates"] + figures["no_steps"] == 6
    assert figures["solutions_per_second"] > 0 and figures["new_tokens"] > 0
    stored = Solution.objects.filter(project=project)
    assert stored.count() == figures["stored"] > 0
    for solution in stored:
        assert solution.problem in problems
        assert solution.generator == "tiny" and solution.source == "generated"
        record = solution.metadata["generated"]
        assert record["temperature"] == 0.7 and record["top_p"] == 0.95
        assert record["seed"] == 7 and record["sample_seed"] in (7, 8)
        assert record["max_new_tokens"] == 12 and record["batch_size"] == 4
        assert record["prompt_template"] == services.generator_options({}).prompt_template
        assert record["parse"] in ("ok", "no_answer")
        # random bytes have no answer: graded as such, never left pending
        assert solution.grading != Grading.PENDING


def test_stored_samples_are_graded_against_the_reference():
    """A right and a wrong boxed answer are graded with math-verify; an answerless one is
    `no_answer`; an empty one is not stored but counted; a repeat is a duplicate."""
    project = ProjectFactory()
    problem = ProblemFactory(project=project, reference_answer="\\frac{1}{2}")
    texts = [
        ("Half of one.\n\nSo \\boxed{0.5}", {"sample_seed": 1}),
        ("Twice.\n\n# Answer\n\n2", {"sample_seed": 1}),
        ("I am not sure.", {"sample_seed": 1}),
        ("\n\n  ", {"sample_seed": 1}),
        ("Twice.\n\n# Answer\n\n2\n\nrambling", {"sample_seed": 1}),
    ]
    result = services.samples_store(
        project=project, problem=problem, texts=texts, options=options(), recorded={"run": 3}
    )
    assert (result["stored"], result["duplicates"], result["no_steps"], result["no_answer"]) == (
        3,
        1,
        1,
        1,
    )
    assert result["unparsed"] == ["\n\n  "]
    from active_learning.grading import solutions_grade

    solutions_grade(project=project, solution_ids=result["ids"])
    by_answer = {s.final_answer: s for s in Solution.objects.filter(project=project)}
    assert by_answer["0.5"].is_correct is True and by_answer["0.5"].grading == Grading.GRADED
    assert by_answer["2"].is_correct is False
    assert by_answer["2"].steps == ["Twice.", "# Answer\n\n2"]
    assert by_answer[None].grading == Grading.NO_ANSWER
    assert by_answer["0.5"].metadata["generated"]["run"] == 3


def test_a_sample_equal_to_an_imported_solution_is_a_duplicate():
    project = ProjectFactory()
    problem = ProblemFactory(project=project)
    SolutionFactory(problem=problem, steps=["Twice.", "# Answer\n\n2"])
    result = services.samples_store(
        project=project,
        problem=problem,
        texts=[("Twice.\n\n# Answer\n\n2", {})],
        options=options(),
        recorded={},
    )
    assert result["stored"] == 0 and result["duplicates"] == 1
    assert Solution.objects.filter(problem=problem).count() == 1


def test_a_generator_with_no_parseable_output_is_recorded_not_raised():
    """A model whose every output is empty: nothing stored, every sample counted under
    no_steps and quoted (catches a generation that crashes or stores empty solutions)."""
    project = ProjectFactory()
    ProblemFactory(project=project)
    figures = services.solutions_generate(
        project=project, options=options(temperature=0), model=tiny_generator(blank=True)
    )
    assert figures["sampled"] == 3 and figures["no_steps"] == 3 and figures["stored"] == 0
    assert figures["unparsed"] == ["", "", ""]
    assert not Solution.objects.filter(project=project).exists()


def test_only_problems_that_need_samples_are_sampled():
    """`only_needed`: a problem with N unlabeled candidates already is skipped; one whose
    candidates are labeled counts as needing them (catches counting labeled solutions)."""
    project = ProjectFactory()
    full, labeled, empty = (ProblemFactory(project=project) for _ in range(3))
    for i in range(3):
        SolutionFactory(problem=full, steps=[f"a{i}"])
    for i in range(3):
        LabelingFactory(solution=SolutionFactory(problem=labeled, steps=[f"b{i}"]))
    picked = services.problems_to_sample(project=project, options=options())
    assert picked == [labeled, empty]
    everything = services.problems_to_sample(project=project, options=options(only_needed=False))
    assert everything == [full, labeled, empty]


def test_problem_ids_of_another_project_are_refused():
    project = ProjectFactory()
    other = ProblemFactory()
    with pytest.raises(ApplicationError, match=f"Problem\\(s\\) {other.pk} are not problems"):
        services.problems_to_sample(project=project, options=options(), problem_ids=[other.pk])


def test_an_unknown_model_is_a_clear_error(generator_settings, tmp_path):
    project = ProjectFactory()
    ProblemFactory(project=project)
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(GeneratorError, match="no such file or folder"):
        services.solutions_generate(project=project, options=options(model=missing))
    assert not Solution.objects.filter(project=project).exists()


def test_sample_next_steps_gives_distinct_first_steps():
    """K alternatives, each one step (no separator inside), no repeats; the blank model gives
    none rather than an error."""
    steps = services.sample_next_steps(
        problem="What is 1+1?",
        prefix_steps=["First, look at it."],
        k=4,
        options={"temperature": 1.0, "top_p": 1.0},
        max_new_tokens=10,
        model=tiny_generator(),
    )
    assert 1 <= len(steps) <= 4 and len(set(steps)) == len(steps)
    assert all(s and "\n\n" not in s for s in steps)
    assert (
        services.sample_next_steps(
            problem="p",
            prefix_steps=[],
            k=2,
            options={"temperature": 0},
            max_new_tokens=4,
            model=tiny_generator(blank=True),
        )
        == []
    )
    with pytest.raises(ApplicationError):
        services.sample_next_steps(problem="p", prefix_steps=[], k=0, model=tiny_generator())


def test_the_heartbeat_beats_during_a_batch():
    """One call per decoding step, inside a single batch: a long batch on a CPU (minutes)
    keeps the run alive for the watchdog (catches a heartbeat only between batches)."""
    model, tokenizer = tiny_generator(blank=True)  # greedy pads: never stops early
    beats = []
    batches = list(
        sample_batches(
            model,
            tokenizer,
            ["p"],
            n=2,
            temperature=0,
            top_p=1.0,
            max_new_tokens=6,
            seed=0,
            batch_size=2,
            on_token=lambda: beats.append(1),
        )
    )
    assert len(batches) == 1 and len(beats) >= 5
