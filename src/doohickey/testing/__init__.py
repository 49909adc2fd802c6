"""Testing a plan: the named test cases behind ``doohickey test``, the connector conformance suite, a pytest plugin.

* :mod:`.scenarios`: the scenario library (happy-path, refund, black-friday ...) and YAML test cases;
* :mod:`.runner`: runs a plan's test cases on fresh twins and judges each business use case;
* :mod:`.harness`: a plan running on its twins (:class:`~.harness.Sandbox`), compressed time;
* :mod:`.expect`: checks and the ``expect:`` language; :mod:`.report`: JUnit XML and HTML;
* :mod:`.real`: a local Tryton for plans whose sandbox points at one;
* :mod:`.conformance`: the same checks for every connector against its twin;
* :mod:`.pytest_plugin`: the ``doohickey_scenario`` fixture for a project's own suite.
"""
