import factory
from django.contrib.auth import get_user_model

from deployments.models import Deploy, Deployment
from tenancy.models import (
    Organization,
    OrganizationMembership,
    Workspace,
    WorkspaceMembership,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda u: u.username)
    password = factory.django.Password("password")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class OrganizationMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationMembership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = OrganizationMembership.Role.MEMBER


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Workspace {n}")


class WorkspaceMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkspaceMembership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = WorkspaceMembership.Role.MEMBER


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"deployment-{n}")


class DeployFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deploy

    deployment = factory.SubFactory(DeploymentFactory)
    kind = Deploy.Kind.IMAGE_AND_DAGS
    state = Deploy.State.SUCCEEDED
