"""Gateway exports: which cycles may go to the SLCP Gateway, and the job that sends them.

eligibility   pure rules 3, 5 and 11 over a cycle's facts (no I/O)
facts         loads those facts from the database
snapshot      loads everything one export is made of
payload       the export document, canonical JSON and its hash
grants        the "active consent grant" condition, by the database clock
job           one pass / the worker: writes exports and their outbox rows
webhooks      delivers the outbox (signed POSTs with retries)
public_address  where a webhook may go: public addresses, in any spelling
pinned_transport  resolves a webhook's host, checks it, connects to what it checked
delivery      the query hosts pull their exports through
"""
