"""tools/analysis_tools/benchmark_large.py runs its evaluation case end to end (the numbers are
measurements, not checked: docs/benchmark.md)."""


def test_eval_case_times_both_forms_and_folds_the_backbone(load_tool, repo_root):
    tool = load_tool('tools/analysis_tools/benchmark_large.py')
    result = tool.run_eval('83m', 64, repeats=1)
    assert result['case'] == 'eval' and (result['arch'], result['size']) == ('83m', 64)
    for key in ('unfused_ms', 'folded_ms'):
        stats = result[key]
        assert 0 < stats['min'] <= stats['median'] <= stats['max']
    assert result['fold']['bn_folded'] > 0 and result['fold']['norms_folded'] > 0
    assert result['peak_rss_mb'] > 0
