"""The ``iop`` operator commands (local stack and operations). Never shipped to Lambda."""
