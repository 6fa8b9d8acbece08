"""Cost models: the op-cost kernel both engines use (op_cost), the closed-form engine
(closed_form), and action-count energy pricing (energy)."""
