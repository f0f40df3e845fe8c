// Country names as the UCI Online Retail data set spells them, to ISO 3166-1 alpha-2.
// `Channel Islands` (Jersey and Guernsey have separate codes), `European Community` and
// `Unspecified` name no single country: they map to null and the name is kept in the
// customer's attributes.
const ONLINE_RETAIL_COUNTRIES: ReadonlyMap<string, string> = new Map(Object.entries({
  australia: 'AU',
  austria: 'AT',
  bahrain: 'BH',
  belgium: 'BE',
  brazil: 'BR',
  canada: 'CA',
  cyprus: 'CY',
  'czech republic': 'CZ',
  denmark: 'DK',
  eire: 'IE',
  ireland: 'IE',
  finland: 'FI',
  france: 'FR',
  germany: 'DE',
  greece: 'GR',
  'hong kong': 'HK',
  iceland: 'IS',
  israel: 'IL',
  italy: 'IT',
  japan: 'JP',
  lebanon: 'LB',
  lithuania: 'LT',
  malta: 'MT',
  netherlands: 'NL',
  norway: 'NO',
  poland: 'PL',
  portugal: 'PT',
  rsa: 'ZA',
  'south africa': 'ZA',
  'saudi arabia': 'SA',
  singapore: 'SG',
  spain: 'ES',
  sweden: 'SE',
  switzerland: 'CH',
  'united arab emirates': 'AE',
  'united kingdom': 'GB',
  usa: 'US',
  'united states': 'US',
}));

/** The ISO code for an Online Retail country name, or null when it names no single country. */
export function onlineRetailCountry(name: string): string | null {
  return ONLINE_RETAIL_COUNTRIES.get(name.trim().toLowerCase()) ?? null;
}
