"""Chat conversations: the intake flow, its state storage and text understanding."""
