"""The fixed wording of every notice, in English and in Spanish.

Pure data. The renderer (`notices.render` and the `notices.layout` modules)
takes every label, heading and sentence it prints from here; the texts that
come with a notice (descriptions, the municipality's own messages) are
already in the notice's language. Both dictionaries have the same keys (a
test checks it). Templates use `str.format` fields; amounts and numbers are
printed the US way in both languages ("$1,234.56"), as the notices go to US
addresses.
"""

from __future__ import annotations

EN: dict[str, str | tuple[str, ...]] = {
    # Titles, as printed at the top of the first page.
    "title.utility_bill": "Utility Bill",
    "title.tax_bill": "Tax Bill",
    "title.reminder": "Payment Reminder",
    "title.past_due": "Past Due Notice",
    "title.final": "Final Notice",
    "title.receipt": "Payment Receipt",
    "title.refund": "Refund Notice",
    "title.statement": "Account Statement",
    "title.shutoff": "Shutoff Notice",
    # Titles as they read in a sentence (the PDF's metadata).
    "name.utility_bill": "Utility bill",
    "name.tax_bill": "Tax bill",
    "name.reminder": "Payment reminder",
    "name.past_due": "Past due notice",
    "name.final": "Final notice",
    "name.receipt": "Payment receipt",
    "name.refund": "Refund notice",
    "name.statement": "Account statement",
    "name.shutoff": "Shutoff notice",
    # What the reference under the title is.
    "ref.utility_bill": "Bill number",
    "ref.tax_bill": "Bill number",
    "ref.reminder": "Notice number",
    "ref.past_due": "Notice number",
    "ref.final": "Notice number",
    "ref.receipt": "Receipt number",
    "ref.refund": "Refund number",
    "ref.statement": "Reference",
    "ref.shutoff": "Notice number",
    "meta.subject": "{name}, account {account}",
    # The facts beside the address window.
    "account_number": "Account number",
    "access_code": "Access code",
    "access_code_hint": "Use it with your account number to pay online.",
    "service_location": "Service location",
    "parcel": "Parcel",
    "billing_period": "Billing period",
    "statement_period": "Statement period",
    "period": "{start} to {end}",
    "issue_date": "Issue date",
    "due_date": "Due date",
    "payment_date": "Payment date",
    "amount_due": "Amount due",
    "amount_paid": "Amount paid",
    "amount_refunded": "Amount refunded",
    "closing_balance": "Closing balance",
    "page": "Page {page} of {pages}",
    "phone": "Phone",
    # The account summary box.
    "summary.title": "Account summary",
    "summary.previous_balance": "Previous balance",
    "summary.payments_and_credits": "Payments and credits",
    "summary.penalties": "Penalties",
    "summary.current_charges": "Current charges",
    "summary.total_due": "TOTAL DUE",
    # Receipts, refunds, past-due and final notices.
    "box.payment": "Payment",
    "box.refund": "Refund",
    "box.notice": "Important",
    "paid_by": "Paid by",
    "refunded_by": "Refunded by",
    "balance_after": "Remaining balance",
    "penalty_assessed": "Penalty assessed",
    "deadline": "Deadline",
    "earliest_shutoff": "Earliest shutoff date",
    "lien.line": (
        "A tax lien was sold on parcel {parcel} on {day}. To clear it, pay the redemption "
        "amount, {amount} and the interest since, to the county tax collector{where}."
    ),
    "lien.counter": " or at the tax collector's counter; it cannot be paid online",
    "installments": "Installments",
    "installment": "Installment {number} of {count}",
    # Tables.
    "reads.title": "Meter readings",
    "col.meter": "Meter",
    "col.service": "Service",
    "col.from": "From",
    "col.to": "To",
    "col.previous": "Previous",
    "col.current": "Current",
    "col.consumption": "Consumption",
    "col.unit": "Unit",
    # The services a meter reads for (a municipality's own kind prints its code).
    "service.water": "Water",
    "service.sewer": "Sewer",
    "service.trash": "Trash",
    "service.stormwater": "Stormwater",
    "lines.title": "Charges",
    "lines.title_tax": "Taxes and charges",
    "lines.total": "Total charges",
    "col.description": "Description",
    "col.quantity": "Quantity",
    "col.rate": "Rate",
    "col.amount": "Amount",
    "col.date": "Date",
    "col.balance": "Balance",
    "activity.title": "Account activity",
    "activity.title_receipt": "Payment applied to",
    "activity.title_refund": "Refund details",
    "continued": "(continued)",
    "continued_next": "Continued on the next page",
    # The usage chart.
    "usage.title": "Usage, last {count} months",
    "usage.title_unit": "Usage, last {count} months ({unit})",
    "usage.this_bill": "This bill",
    # Opening sentences by kind.
    "intro.reminder": (
        "This is a friendly reminder that {amount} is due on {date}. "
        "If you have already paid, thank you, and please disregard this notice."
    ),
    "intro.reminder_no_date": (
        "This is a friendly reminder that {amount} is due on your account. "
        "If you have already paid, thank you, and please disregard this notice."
    ),
    "intro.past_due": (
        "Our records show that your account is past due. A late-payment penalty of "
        "{penalty} has been assessed. Please pay {amount} by {date}."
    ),
    "intro.past_due_no_date": (
        "Our records show that your account is past due. A late-payment penalty of "
        "{penalty} has been assessed. Please pay {amount} as soon as possible."
    ),
    "intro.past_due_no_penalty": (
        "Our records show that your account is past due. Please pay {amount} by {date}."
    ),
    "intro.final": (
        "FINAL NOTICE: your account is seriously past due. Payment of {amount} "
        "must be received by {date}."
    ),
    "intro.final_no_date": (
        "FINAL NOTICE: your account is seriously past due. Please pay {amount} now."
    ),
    "intro.shutoff": (
        "SHUTOFF NOTICE: your utility service at {address} may be shut off on or after {date} "
        "unless the past-due amount of {amount} is paid before then. Call us if you want a "
        "payment plan, have a medical certificate or dispute the amount."
    ),
    "intro.receipt": "Thank you for your payment of {amount} received on {date}.",
    "intro.paid_in_full": "Paid in full. Thank you: nothing is due on this bill.",
    "amounts_as_of": "Amounts as of",
    "activity.invoice": "Bill {ref}",
    "activity.invoice_void": "Bill {ref} canceled",
    "activity.penalty": "Penalties and interest, bill {ref}",
    "activity.credit_memo": "Credit on bill {ref}",
    "activity.waiver": "Penalty waived",
    "activity.payment": "Payment, thank you (receipt {ref})",
    "activity.discount": "Early-payment discount, bill {ref}",
    "activity.discount_reversed": "Early-payment discount taken back, bill {ref}",
    "activity.refund": "Refund of a payment",
    "activity.refund_failed": "Refund not completed; the amount stays on the account",
    "activity.payment_void": "Payment reversed",
    "activity.dispute": "Card payment disputed",
    "activity.other": "Adjustment",
    "activity.deposit": "Deposit applied to your bill",
    "deposit.held": "Deposit held: {amount} since {date}. A deposit is not a payment toward your bills; it is returned or applied to your final bill as the town's rules say.",
    "paid.principal": "Bill {ref}",
    "paid.penalty": "Penalties, bill {ref}",
    "paid.interest": "Interest, bill {ref}",
    "paid.installment": ", installment {n}",
    "paid.credit": "Credit on the account",
    "discount.offer": (
        "Pay {amount} by {date} and this bill is paid in full: a {percent}% early-payment "
        "discount of {discount}."
    ),
    "discount.offer_installment": (
        "Pay {amount} by {date} and installment {n} is paid in full: a {percent}% "
        "early-payment discount of {discount}."
    ),
    "estimate.second": (
        "Your {year} tax is {tax}. The first installment billed {estimate} (estimated) is "
        "deducted: the second installment is {due}."
    ),
    "estimate.excess": (
        "The first installment billed {excess} more than your {year} tax: it is taken off the "
        "first installment, and what you paid beyond the tax is credit on your account."
    ),
    "tender.card": "card",
    "tender.cash": "cash",
    "tender.check": "check",
    "tender.money_order": "money order",
    "tender.bill_pay": "bank bill payment",
    "tender.card_of": "{brand} ending in {last4}",
    "tender.card_ending": "card ending in {last4}",
    "tender.check_number": "check number {number}",
    "payment_time": "Time",
    "confirmation": "Confirmation number",
    "card_reference": "Card payment reference",
    "convenience_fee": "Card convenience fee (not part of the bill)",
    "refund.of_payment": "Refund of your payment of {amount} by {tender} on {date} (receipt {receipt})",
    "also_owed.title": "Also owed (billed apart)",
    "also_owed.utility": "Utility services (see your utility bill)",
    "also_owed.tax": "Property tax {year} (see your tax bill)",
    "also_owed.other": "Other charges",
    "intro.refund": "A refund of {amount} has been issued to you on {date}.",
    # The owner's copy of an occupant's bill (a location billed "owner copied").
    # The door hanger (the 48-hour notice) left at the service address.
    "hanger.title": "48-hour notice: water service shutoff",
    "hanger.body": (
        "The water service at {address} (account {account}) may be shut off on or after "
        "{date} unless the past-due amount of {amount} is paid."
    ),
    "hanger.pay": "Pay online, by phone or at the town office. Questions: call the utility office.",
    "hanger.medical": (
        "If someone in the home has a serious medical condition, call us before {date}: a "
        "medical certificate holds the shutoff."
    ),
    "hanger.subject": "{town}: 48-hour notice of water service shutoff",
    "copy.occupant": (
        "To the occupant of {address}: the town must tell whoever lives at a service address "
        "before the service is shut off. The account holder was sent this notice at the "
        "mailing address on the account."
    ),
    "copy.owner": (
        "Owner's copy. The occupant at {address} receives this bill and is responsible for "
        "paying it; the town sends this copy to you as the property's owner."
    ),
    "intro.statement": ("This statement shows the activity on your account from {start} to {end}."),
    "intro.statement_no_period": "This statement shows the recent activity on your account.",
    # The remittance stub.
    "stub.title": "PAYMENT STUB",
    "stub.detach": "Detach and return this portion with your payment",
    "stub.payable": (
        "Make checks payable to {name}. Write your account number on your check. Do not send cash."
    ),
    "stub.remit_to": "Remit to",
    "stub.amount_enclosed": "Amount enclosed",
    "stub.scan_to_pay": "Scan to pay online",
    "stub.more_stubs": (
        "Payment stubs for the remaining installments. Detach the stub of the "
        "installment you are paying and return it with your payment."
    ),
    # Dates.
    "date.long": "{month} {day}, {year}",
    "date.numeric": "{month:02d}/{day:02d}/{year}",
    "time": "{hour12}:{minute:02d} {period} {zone}",
    "months": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "months.short": (
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ),
}

ES: dict[str, str | tuple[str, ...]] = {
    "title.utility_bill": "Factura de servicios",
    "title.tax_bill": "Factura de impuestos",
    "title.reminder": "Recordatorio de pago",
    "title.past_due": "Aviso de pago vencido",
    "title.final": "Aviso final",
    "title.receipt": "Recibo de pago",
    "title.refund": "Aviso de reembolso",
    "title.statement": "Estado de cuenta",
    "title.shutoff": "Aviso de corte de servicio",
    "name.utility_bill": "Factura de servicios",
    "name.tax_bill": "Factura de impuestos",
    "name.reminder": "Recordatorio de pago",
    "name.past_due": "Aviso de pago vencido",
    "name.final": "Aviso final",
    "name.receipt": "Recibo de pago",
    "name.refund": "Aviso de reembolso",
    "name.statement": "Estado de cuenta",
    "name.shutoff": "Aviso de corte de servicio",
    "ref.utility_bill": "Número de factura",
    "ref.tax_bill": "Número de factura",
    "ref.reminder": "Número de aviso",
    "ref.past_due": "Número de aviso",
    "ref.final": "Número de aviso",
    "ref.receipt": "Número de recibo",
    "ref.refund": "Número de reembolso",
    "ref.statement": "Referencia",
    "ref.shutoff": "Número de aviso",
    "meta.subject": "{name}, cuenta {account}",
    "account_number": "Número de cuenta",
    "access_code": "Código de acceso",
    "access_code_hint": "Úselo con su número de cuenta para pagar en línea.",
    "service_location": "Dirección del servicio",
    "parcel": "Parcela",
    "billing_period": "Período de facturación",
    "statement_period": "Período del estado",
    "period": "del {start} al {end}",
    "issue_date": "Fecha de emisión",
    "due_date": "Fecha de vencimiento",
    "payment_date": "Fecha de pago",
    "amount_due": "Importe adeudado",
    "amount_paid": "Importe pagado",
    "amount_refunded": "Importe reembolsado",
    "closing_balance": "Saldo final",
    "page": "Página {page} de {pages}",
    "phone": "Teléfono",
    "summary.title": "Resumen de la cuenta",
    "summary.previous_balance": "Saldo anterior",
    "summary.payments_and_credits": "Pagos y créditos",
    "summary.penalties": "Recargos",
    "summary.current_charges": "Cargos actuales",
    "summary.total_due": "TOTAL ADEUDADO",
    "box.payment": "Pago",
    "box.refund": "Reembolso",
    "box.notice": "Importante",
    "paid_by": "Forma de pago",
    "refunded_by": "Forma de reembolso",
    "balance_after": "Saldo pendiente",
    "penalty_assessed": "Recargo aplicado",
    "deadline": "Fecha límite",
    "earliest_shutoff": "Fecha más temprana de corte",
    "lien.line": (
        "Se vendió un gravamen fiscal sobre la parcela {parcel} el {day}. Para liberarlo, "
        "pague el monto de redención, {amount} más los intereses desde entonces, al "
        "recaudador de impuestos del condado{where}."
    ),
    "lien.counter": " o en la ventanilla del recaudador; no se puede pagar en línea",
    "installments": "Plazos",
    "installment": "Plazo {number} de {count}",
    "reads.title": "Lecturas del medidor",
    "col.meter": "Medidor",
    "col.service": "Servicio",
    "col.from": "Desde",
    "col.to": "Hasta",
    "col.previous": "Anterior",
    "col.current": "Actual",
    "col.consumption": "Consumo",
    "col.unit": "Unidad",
    "service.water": "Agua",
    "service.sewer": "Alcantarillado",
    "service.trash": "Basura",
    "service.stormwater": "Aguas pluviales",
    "lines.title": "Cargos",
    "lines.title_tax": "Impuestos y cargos",
    "lines.total": "Total de cargos",
    "col.description": "Descripción",
    "col.quantity": "Cantidad",
    "col.rate": "Tarifa",
    "col.amount": "Importe",
    "col.date": "Fecha",
    "col.balance": "Saldo",
    "activity.title": "Movimientos de la cuenta",
    "activity.title_receipt": "Pago aplicado a",
    "activity.title_refund": "Detalle del reembolso",
    "continued": "(continuación)",
    "continued_next": "Continúa en la página siguiente",
    "usage.title": "Consumo de los últimos {count} meses",
    "usage.title_unit": "Consumo de los últimos {count} meses ({unit})",
    "usage.this_bill": "Esta factura",
    "intro.reminder": (
        "Le recordamos que el pago de {amount} vence el {date}. "
        "Si ya lo realizó, gracias; no tenga en cuenta este aviso."
    ),
    "intro.reminder_no_date": (
        "Le recordamos que su cuenta tiene un saldo de {amount} pendiente de pago. "
        "Si ya lo realizó, gracias; no tenga en cuenta este aviso."
    ),
    "intro.past_due": (
        "Según nuestros registros, su cuenta tiene un saldo vencido. Se ha aplicado un "
        "recargo por pago tardío de {penalty}. Pague {amount} a más tardar el {date}."
    ),
    "intro.past_due_no_date": (
        "Según nuestros registros, su cuenta tiene un saldo vencido. Se ha aplicado un "
        "recargo por pago tardío de {penalty}. Pague {amount} lo antes posible."
    ),
    "intro.past_due_no_penalty": (
        "Según nuestros registros, su cuenta tiene un saldo vencido. "
        "Pague {amount} a más tardar el {date}."
    ),
    "intro.final": (
        "AVISO FINAL: su cuenta tiene un saldo vencido grave. Debemos recibir el pago "
        "de {amount} a más tardar el {date}."
    ),
    "intro.final_no_date": (
        "AVISO FINAL: su cuenta tiene un saldo vencido grave. Pague {amount} de inmediato."
    ),
    "intro.shutoff": (
        "AVISO DE CORTE: el servicio público en {address} puede cortarse a partir del {date} "
        "si antes no se paga el saldo vencido de {amount}. Llámenos si desea un plan de pagos, "
        "tiene un certificado médico o quiere disputar el importe."
    ),
    "intro.receipt": "Gracias por su pago de {amount}, recibido el {date}.",
    "intro.paid_in_full": "Pagada en su totalidad. Gracias: no hay nada que pagar en esta factura.",
    "amounts_as_of": "Importes al",
    "activity.discount": "Descuento por pago anticipado, factura {ref}",
    "activity.discount_reversed": "Descuento por pago anticipado retirado, factura {ref}",
    "activity.invoice": "Factura {ref}",
    "activity.invoice_void": "Factura {ref} anulada",
    "activity.penalty": "Recargos e intereses, factura {ref}",
    "activity.credit_memo": "Crédito en la factura {ref}",
    "activity.waiver": "Recargo condonado",
    "activity.payment": "Pago, gracias (recibo {ref})",
    "activity.refund": "Reembolso de un pago",
    "activity.refund_failed": "Reembolso no realizado; el importe queda en la cuenta",
    "activity.payment_void": "Pago anulado",
    "activity.dispute": "Pago con tarjeta disputado",
    "activity.other": "Ajuste",
    "activity.deposit": "Depósito aplicado a su factura",
    "deposit.held": "Depósito en garantía: {amount} desde el {date}. Un depósito no es un pago de sus facturas; se devuelve o se aplica a su factura final según las reglas del municipio.",
    "paid.principal": "Factura {ref}",
    "paid.penalty": "Recargos, factura {ref}",
    "paid.interest": "Intereses, factura {ref}",
    "paid.installment": ", plazo {n}",
    "paid.credit": "Crédito en la cuenta",
    "discount.offer": (
        "Pague {amount} a más tardar el {date} y esta factura queda pagada por completo: un "
        "descuento por pago anticipado del {percent}% de {discount}."
    ),
    "discount.offer_installment": (
        "Pague {amount} a más tardar el {date} y la cuota {n} queda pagada por completo: un "
        "descuento por pago anticipado del {percent}% de {discount}."
    ),
    "estimate.second": (
        "Su impuesto de {year} es {tax}. Se descuenta la primera cuota facturada de {estimate} "
        "(estimada): la segunda cuota es {due}."
    ),
    "estimate.excess": (
        "La primera cuota facturó {excess} más que su impuesto de {year}: se descuenta de la "
        "primera cuota, y lo que pagó de más queda como crédito en su cuenta."
    ),
    "tender.card": "tarjeta",
    "tender.cash": "efectivo",
    "tender.check": "cheque",
    "tender.money_order": "giro postal",
    "tender.bill_pay": "pago de factura por su banco",
    "tender.card_of": "{brand} terminada en {last4}",
    "tender.card_ending": "tarjeta terminada en {last4}",
    "tender.check_number": "cheque número {number}",
    "payment_time": "Hora",
    "confirmation": "Número de confirmación",
    "card_reference": "Referencia del pago con tarjeta",
    "convenience_fee": "Cargo por conveniencia de la tarjeta (no forma parte de la factura)",
    "refund.of_payment": "Reembolso de su pago de {amount} con {tender} del {date} (recibo {receipt})",
    "also_owed.title": "También adeuda (aparte)",
    "also_owed.utility": "Servicios públicos (vea su factura de servicios)",
    "also_owed.tax": "Impuesto predial {year} (vea su factura de impuestos)",
    "also_owed.other": "Otros cargos",
    "intro.refund": "Se le ha emitido un reembolso de {amount} el {date}.",
    "hanger.title": "Aviso de 48 horas: corte del servicio de agua",
    "hanger.body": (
        "El servicio de agua en {address} (cuenta {account}) puede cortarse a partir del "
        "{date} si antes no se paga el saldo vencido de {amount}."
    ),
    "hanger.pay": (
        "Pague en línea, por teléfono o en la oficina municipal. Preguntas: llame a la oficina "
        "de servicios."
    ),
    "hanger.medical": (
        "Si alguien en el hogar tiene una condición médica grave, llámenos antes del {date}: "
        "un certificado médico detiene el corte."
    ),
    "hanger.subject": "{town}: aviso de 48 horas del corte del servicio de agua",
    "copy.occupant": (
        "Al ocupante de {address}: el municipio debe avisar a quien vive en la dirección del "
        "servicio antes de cortarlo. Este aviso también se envió al titular de la cuenta a la "
        "dirección postal de la cuenta."
    ),
    "copy.owner": (
        "Copia del propietario. El ocupante de {address} recibe esta factura y es responsable "
        "de pagarla; el municipio le envía esta copia como propietario del inmueble."
    ),
    "intro.statement": (
        "Este estado de cuenta muestra los movimientos de su cuenta del {start} al {end}."
    ),
    "intro.statement_no_period": (
        "Este estado de cuenta muestra los movimientos recientes de su cuenta."
    ),
    "stub.title": "TALÓN DE PAGO",
    "stub.detach": "Desprenda y devuelva esta parte con su pago",
    "stub.payable": (
        "Emita su cheque a nombre de {name}. Escriba su número de cuenta en el cheque. "
        "No envíe dinero en efectivo."
    ),
    "stub.remit_to": "Enviar a",
    "stub.amount_enclosed": "Cantidad incluida",
    "stub.scan_to_pay": "Escanee para pagar en línea",
    "stub.more_stubs": (
        "Talones de pago de los plazos restantes. Desprenda el talón del plazo "
        "que paga y devuélvalo con su pago."
    ),
    "date.long": "{day} de {month} de {year}",
    "date.numeric": "{day:02d}/{month:02d}/{year}",
    "time": "{hour:02d}:{minute:02d} {zone}",
    "months": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    "months.short": (
        "Ene",
        "Feb",
        "Mar",
        "Abr",
        "May",
        "Jun",
        "Jul",
        "Ago",
        "Sep",
        "Oct",
        "Nov",
        "Dic",
    ),
}

#: The wording by language code; a notice in another language falls back to English.
TEXTS: dict[str, dict[str, str | tuple[str, ...]]] = {"en": EN, "es": ES}


def texts_for(language: str) -> dict[str, str | tuple[str, ...]]:
    """The fixed wording for a notice's language ("en" or "es"; English otherwise)."""
    return TEXTS.get(language, EN)
