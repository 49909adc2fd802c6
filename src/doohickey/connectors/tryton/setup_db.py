"""Prepare a fresh Tryton database for storefront orders (run in its own process by ``server.build_template``).

Creates the company (USD), a fiscal year with invoice sequences, a minimal chart
of accounts, a payment term, an accounting product category (revenue, expense,
a 10% sales tax) and sale settings, using Tryton's own test tools through
proteus. Usage: ``python -m doohickey.connectors.tryton.setup_db CONFIG DATABASE``.
"""

from __future__ import annotations

import sys
from decimal import Decimal


def setup(config_file: str, database: str) -> None:
    """Configure ``database`` so sales can be confirmed, shipped, invoiced and credited."""
    from proteus import Model, config
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, create_tax, get_accounts
    from trytond.modules.account_invoice.tests.tools import create_payment_term, set_fiscalyear_invoice_sequences
    from trytond.modules.company.tests.tools import create_company, get_company

    config.set_trytond(database, config_file=config_file)
    create_company()
    company = get_company()
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company))
    fiscalyear.click("create_period")
    create_chart(company)
    accounts = get_accounts(company)
    tax = create_tax(Decimal("0.10"))
    tax.name = tax.description = "Sales tax 10%"
    tax.save()
    payment_term = create_payment_term()
    payment_term.name = "Paid online"
    payment_term.save()

    category = Model.get("product.category")(name="Web shop", accounting=True)
    category.account_revenue = accounts["revenue"]
    category.account_expense = accounts["expense"]
    category.customer_taxes.append(Model.get("account.tax")(tax.id))
    category.save()

    sale_config = Model.get("sale.configuration")(1)
    sale_config.sale_invoice_method = "order"
    sale_config.sale_shipment_method = "order"
    sale_config.save()


if __name__ == "__main__":
    setup(sys.argv[1], sys.argv[2])
