"""The demo town of Maple Falls: fifty households billed for their utilities and property tax,
the staff who serve them, and `munibill demo serve`, which runs it all on one machine.

demo stands on top of every other package and nothing imports it (docs/architecture.md).
"""
