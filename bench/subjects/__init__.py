"""The subjects: the registries of serializers, shapes, fold styles and tasks, ship transports and
tasks, and capability kinds. Every fact about a subject is on its entry."""
