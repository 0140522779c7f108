import factory
from django.utils import timezone

from labeling.models import (
    Generation,
    Labeling,
    LabelingStatus,
    Problem,
    Project,
    Role,
    Solution,
    User,
)
from labeling.services.prm800k import sha256, steps_hash


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.ANNOTATOR
    password = factory.django.Password("pw-for-tests")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"project {n}")


class ProblemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Problem

    project = factory.SubFactory(ProjectFactory)
    text = factory.Sequence(lambda n: f"What is ${n} + 1$?")
    text_hash = factory.LazyAttribute(lambda o: sha256(o.text))
    reference_answer = "2"


class SolutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Solution

    problem = factory.SubFactory(ProblemFactory)
    project = factory.LazyAttribute(lambda o: o.problem.project)
    steps = factory.Sequence(lambda n: [f"Step one of {n}.", "# Answer\n\n2"])
    steps_hash = factory.LazyAttribute(lambda o: steps_hash(o.steps))
    final_answer = "2"


class GenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Generation

    project = factory.SubFactory(ProjectFactory)
    number = factory.Sequence(lambda n: n)


class LabelingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Labeling

    solution = factory.SubFactory(SolutionFactory)
    project = factory.LazyAttribute(lambda o: o.solution.project)
    labeler = factory.SubFactory(UserFactory)
    status = LabelingStatus.SUBMITTED
    finish_reason = "solution"
    submitted_at = factory.LazyFunction(timezone.now)
    total_time_ms = 1000
    steps = factory.LazyAttribute(
        lambda o: [
            {
                "completions": [{"text": text, "rating": 1, "flagged": False}],
                "human_completion": None,
                "chosen_completion": 0,
            }
            for text in o.solution.steps
        ]
    )
