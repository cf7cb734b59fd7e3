// plotly.js-dist-min ships no types; plotting.ts describes the part it uses.
declare module 'plotly.js-dist-min';
