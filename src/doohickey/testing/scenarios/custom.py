"""A test case written only in YAML: ``data`` (literal or generated orders, then actions), ``faults``, ``expect``.

::

    tests:
      - name: big-discount
        use_case: Sync orders from Shopify to the ERP
        faults: [{system: erp, kind: outage, start: 0, end: 1.5}]
        data:
          orders:
            - {number: "#5001", lines: [{sku: "@1", quantity: 2, price: "100.00"}],
               discount_percent: 50, shipping: "9.90", tax_rate: "0.0825"}
          generate: {orders: 3}
          then: [{wait: 1.1}, {cancel: "#5001"}]
        expect: {erp.orders: 4, erp.order[#5001].status: cancelled, deadletters: 0}

``sku: "@1"`` is the first product of the sandbox catalogue (``@2`` the second ...). Actions in
``then``: ``{pay: NUMBER}``, ``{cancel: NUMBER}``, ``{refund: NUMBER}`` (everything left, with
shipping), ``{wait: SECONDS}``. Faults are the twins' Fault fields plus ``system``; their
``start``/``end`` count from the moment the test case starts. :func:`evaluate` checks ``expect``
(see :mod:`doohickey.testing.expect` for the language); library scenarios take ``expect`` too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from doohickey.testing import storefront as shop
from doohickey.testing.expect import ExpectationError, describe, dig, parse_target, satisfies
from doohickey.testing.scenarios import Context, scenario
from doohickey.testing.scenarios.common import check_no_dead_letters, check_sla, wait_for_order
from doohickey.twins.faults import Fault, FaultFileError, parse_faults

ORDER_KEYS = {"lines", "email", "discount_percent", "discount_amount", "shipping", "tax_rate", "financial_status",
              "number", "note", "currency"}


def case_faults(raw: list[dict[str, Any]], systems: list[str]) -> list[tuple[str, Fault]]:
    """The test case's faults as (System, Fault); errors name the entry and field."""
    out = []
    for index, item in enumerate(raw):
        item = dict(item)
        system = item.pop("system", None)
        if system not in systems:
            raise ExpectationError(f"faults[{index}]: 'system' must name a System of the plan "
                                   f"({', '.join(systems)}), not {system!r}")
        try:
            out.append((system, parse_faults(item)[0]))
        except FaultFileError as exc:
            raise ExpectationError(f"faults[{index}]: {exc.message.split(': ', 1)[-1]}") from None
    return out


@scenario("custom", "A test case of the project's own: the orders, actions, faults and expectations its YAML says.")
async def custom(ctx: Context) -> None:
    state = ctx.storefront()
    data = ctx.case.data
    numbers = []
    for index, spec in enumerate(data.get("orders") or []):
        unknown = set(spec) - ORDER_KEYS
        if unknown:
            raise ExpectationError(f"data.orders[{index}]: unknown key(s) {', '.join(sorted(unknown))}; "
                                   f"known: {', '.join(sorted(ORDER_KEYS))}")
        options = {k: v for k, v in spec.items() if k != "lines"}
        options.setdefault("email", f"custom{index}@example.com")
        numbers.append(shop.place_order(state, [_line(ctx, ln) for ln in spec.get("lines") or []],
                                        **options)["name"])
    for planned in _generated(ctx, data.get("generate") or {}):
        numbers.append(shop.place_canonical(state, planned)["name"])
    ctx.orders += numbers
    found = _order_flow(ctx)
    for number in numbers if found else ():
        await wait_for_order(ctx, found[1], number)
    for index, action in enumerate(data.get("then") or []):
        await _act(ctx, state, index, action)
    await ctx.sandbox.settle()
    if found:
        check_sla(ctx, found[0], set(numbers))
    if not ctx.case.expect:
        check_no_dead_letters(ctx)


def _order_flow(ctx: Context):
    try:
        return ctx.flow("order", "storefront", None)
    except Exception:  # no order flow: nothing to wait for
        return None


def _line(ctx: Context, line: dict[str, Any]) -> dict[str, Any]:
    sku = str(line.get("sku", ""))
    if sku.startswith("@"):
        products = ctx.sandbox.products(8)
        index = int(sku[1:]) - 1
        if not 0 <= index < len(products):
            raise ExpectationError(f"sku {sku}: the sandbox catalogue has {len(products)} products (@1..@"
                                   f"{len(products)})")
        variant = products[index]
        return {"sku": variant.sku, "quantity": line.get("quantity", 1), "price": line.get("price", str(variant.price))}
    return dict(line)


def _generated(ctx: Context, spec: dict[str, Any]) -> list[Any]:
    if not spec:
        return []
    from doohickey.twins.datagen import DataGenerator

    gen = DataGenerator(int(spec.get("seed", 11)))
    gen._order_no = 90_000  # generated numbers stay clear of the storefront's own
    dataset = ctx.sandbox.dataset
    return [gen.order(dataset.customers, dataset.products) for _ in range(int(spec.get("orders", 1)))]


async def _act(ctx: Context, state: Any, index: int, action: dict[str, Any]) -> None:
    if not isinstance(action, dict) or len(action) != 1:
        raise ExpectationError(f"data.then[{index}]: one action per entry, e.g. {{cancel: '#1001'}}")
    (verb, value), = action.items()
    if verb == "wait":
        await asyncio.sleep(float(value))
    elif verb == "pay":
        shop.mark_paid(state, str(value))
    elif verb == "cancel":
        shop.cancel(state, str(value))
    elif verb == "refund":
        shop.refund(state, str(value), None, shipping=True)
    else:
        raise ExpectationError(f"data.then[{index}]: unknown action {verb!r}; known: pay, cancel, refund, wait")
    if verb != "wait":
        await ctx.sandbox.settle()


async def evaluate(ctx: Context, expect: dict[str, Any]) -> None:
    """Check every ``expect:`` entry (see :mod:`doohickey.testing.expect`)."""
    messages = None
    for key, spec in expect.items():
        where = f"expect {key}"
        if key == "deadletters" or key.startswith("deadletters."):
            flow = key.partition(".")[2] or None
            letters = ctx.sandbox.dead_letters(flow)
            ctx.checks.that(where, spec, len(letters),
                            note="; ".join(f"{d.flow} {d.external_id}: {d.reason}" for d in letters[:3]))
        elif key.startswith("alerts."):
            messages = messages if messages is not None else await ctx.sandbox.collect_alerts()
            _, channel, what = [*key.split(".", 2), ""][:3]
            mine = [m for m in messages if m.channel == channel and not m.recovery]
            if what == "mentions":
                ctx.checks.that(where, f"~{spec}", "\n".join(m.text for m in mine) or "no alert")
            elif not what:
                ctx.checks.that(where, spec, len(mine))
            else:
                raise ExpectationError(f"{where}: write alerts.CHANNEL or alerts.CHANNEL.mentions")
        elif key.startswith("sla."):
            states = {s.name: s for s in ctx.sandbox.sla_states()}
            name = key[4:]
            if name not in states:
                raise ExpectationError(f"{where}: the plan has no measured SLA {name!r} ({', '.join(states)})")
            ctx.checks.that(where, spec, states[name].verdict, note=states[name].explanation)
        else:
            await _system_value(ctx, key, spec)


async def _system_value(ctx: Context, key: str, spec: Any) -> None:
    target = parse_target(key)
    if target is None or target.system not in ctx.plan.systems:
        raise ExpectationError(f"expect {key}: start with a System of the plan ({', '.join(ctx.plan.systems)}), "
                               "'deadletters', 'alerts.' or 'sla.'")
    client = ctx.sandbox.client(target.system)
    connector = ctx.sandbox.runtime.connectors[target.system]
    entity = connector.entities.get(target.entity)
    if target.key is None:
        from doohickey.testing.harness import read_all

        records = await read_all(client, target.entity)
        ctx.checks.that(f"{target.system} {target.entity} records", spec, len(records))
        return
    key_field = entity.key if entity else "id"
    found = await client.find(target.entity, {key_field: target.key})
    label = f"{target.system} {target.entity} {target.key}"
    if target.plural:
        ctx.checks.that(f"{label}: records found", spec, len(found))
    elif not target.path:
        ctx.checks.add(label, satisfies(spec, bool(found)), describe(spec), "present" if found else "absent")
    elif not found:
        ctx.checks.add(f"{label}: {'.'.join(target.path)}", False, describe(spec), "no such record")
    else:
        present, value = dig(found[0].data, target.path)
        ctx.checks.add(f"{label}: {'.'.join(target.path)}", present and satisfies(spec, value),
                       describe(spec), value if present else "no such field")
