"""Notices: what residents receive.

What belongs here: ReportLab rendering of every notice (bills, reminders,
past-due and final notices, receipts, refund notices, statements), the
remittance stub and scan line, print batches for the mail house, e-mail
delivery (SMTP or the outbox folder) and the reminder stages. Builds on
billing and payments.
"""
