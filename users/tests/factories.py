import factory

from users.models import User

TEST_PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.django.Password(TEST_PASSWORD)


def support_user(**fields) -> User:
    """A platform support account (DESIGN.md §13): staff, in the `Support` group that users
    migration 0002 makes, not a superuser."""
    from django.contrib.auth.models import Group

    user = UserFactory(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name="Support"))
    return user
