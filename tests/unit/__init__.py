"""Fast unit tests of lcdev's pure logic and of the supervisor on the in-memory backend."""
