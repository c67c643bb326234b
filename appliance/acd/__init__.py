"""The ACD: queues (skill groups), agents, routing strategies, call control (docs/acd.md).

``appliance.acd.service.ACD`` is the service API; ``model`` the config and shared types;
``strategy`` the routing decisions; ``agent``, ``queue`` and ``calls`` the state machines.
"""
