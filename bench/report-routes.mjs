// The tier-1 reports the benchmarks time, over the last 30 days of the seeded `bench` org
// (bench/reports-data.mjs): name → path. `topQuery` is a query of the data for queries/detail;
// `searchToken`, a Coveo search token of the org for stats/topQueries (left out without one).
export function reportRoutes({ topQuery, searchToken }) {
  const hub = encodeURIComponent("hub == 'Support'")
  const two = `f=${hub}&f=${encodeURIComponent("language == 'fr'")}`
  return {
    'overview': '/api/v1/overview?range=30d',
    'overview (1 filter)': `/api/v1/overview?range=30d&f=${hub}`,
    'overview (2 filters)': `/api/v1/overview?range=30d&${two}`,
    'timeseries': '/api/v1/timeseries?range=30d&interval=day&metrics=searches,ctr,noResultRate,abandonmentRate',
    'timeseries (1 filter)': `/api/v1/timeseries?range=30d&interval=day&metrics=searches,ctr&f=${hub}`,
    'queries top': '/api/v1/queries?range=30d',
    'queries top (2 filters)': `/api/v1/queries?range=30d&${two}`,
    'queries noResults': '/api/v1/queries?range=30d&view=noResults',
    'queries noClicks': '/api/v1/queries?range=30d&view=noClicks',
    'queries lowCtr': '/api/v1/queries?range=30d&view=lowCtr',
    'queries trending': '/api/v1/queries?range=30d&view=trending',
    'queries/detail': `/api/v1/queries/detail?range=30d&query=${encodeURIComponent(topQuery)}`,
    'content-gaps': '/api/v1/content-gaps?range=30d',
    'documents': '/api/v1/documents?range=30d',
    'breakdown hub': '/api/v1/breakdown?range=30d&dimension=hub',
    'breakdown language×device': '/api/v1/breakdown?range=30d&dimension=language,device',
    'visits': '/api/v1/visits?range=30d',
    'deflection': '/api/v1/deflection?range=30d',
    'feedback': '/api/v1/feedback?range=30d',
    'quality (7d)': '/api/v1/quality',
    'quality (30d)': '/api/v1/quality?range=30d',
    'status': '/api/v1/status',
    ...(searchToken ? { 'coveo topQueries': `/rest/ua/v15/stats/topQueries?pageSize=5&queryText=pa&access_token=${encodeURIComponent(searchToken)}` } : {}),
    'coveo globalData': `/rest/ua/v15/stats/globalData?m=PerformSearch,ClickThroughRatio&from=${new Date(Date.now() - 30 * 86_400_000).toISOString()}&to=${new Date().toISOString()}`,
    'coveo combinedData': `/rest/ua/v15/stats/combinedData?m=PerformSearch,ClickThroughRatio&d=originLevel1&from=${new Date(Date.now() - 30 * 86_400_000).toISOString()}&to=${new Date().toISOString()}`,
  }
}
