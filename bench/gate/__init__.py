"""The CI regression gate: the verdict rule (rule, estimates), its measured sensitivity and their output."""
