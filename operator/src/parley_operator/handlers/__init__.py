"""kopf's side of the operator: gather facts, call the services, write the status.

`main.build_registry` wires these to kopf; the decisions are in `reconcile`.
"""
