/**
 * The CSV contract, record by record: which headers are accepted and which rows are applied or
 * rejected with which reason. The splitter's stream handling is tested in split.test.ts.
 */
import { chooseDelimiter, invalidTextReason, isBlankRecord, parseHeader, UploadRejectedError, validateRow, type CsvHeader, type StoreScope } from '../../src/shared/csv';
import { settings } from '../../src/shared/settings';

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

describe('parseHeader', () => {
  test.each<[string, string[], Omit<CsvHeader, 'columns' | 'names'>]>([
    ['the contract columns in contract order', ['store', 'product', 'count'], { store: 0, product: 1, count: 2, threshold: -1 }],
    ['with the optional threshold', ['store', 'product', 'count', 'threshold'], { store: 0, product: 1, count: 2, threshold: 3 }],
    ['any order', ['count', 'threshold', 'product', 'store'], { store: 3, product: 2, count: 0, threshold: 1 }],
    ['any case, names padded with spaces', ['  STORE', 'Product ', ' CoUnT ', 'Threshold'], { store: 0, product: 1, count: 2, threshold: 3 }],
    ['other columns ignored', ['note', 'store', 'size', 'product', 'count', ''], { store: 1, product: 3, count: 4, threshold: -1 }],
    ['the names stores send', ['Store ID', 'SKU', 'On Hand', 'Reorder Point'], { store: 0, product: 1, count: 2, threshold: 3 }],
    ['spaces, dashes and underscores alike', ['store_no', 'ITEM-ID', ' min__qty ', 'Qty'], { store: 0, product: 1, count: 3, threshold: 2 }],
  ])('accepts %s', (_name, record, positions) => {
    expect(parseHeader(record)).toEqual({ columns: record.length, names: record.map((name) => name.trim()), ...positions });
  });

  // Every accepted name of every field, spelled as exports spell them, finds that field.
  test.each(Object.entries(settings.csv.columns).flatMap(([field, names]) => names.map((name) => [field, name] as const)))(
    '%s is found under %j, in any case and separator style',
    (field, name) => {
      const others = { store: 'store', product: 'product', count: 'count', threshold: 'threshold' };
      for (const spelling of [name, name.toUpperCase(), ` ${name.replace(/ /g, '_')} `, name.replace(/ /g, '-'), name.replace(/ /g, ' - ')]) {
        const record = ['note', ...Object.entries(others).map(([other, plain]) => (other === field ? spelling : plain))];
        const header = parseHeader(record);
        expect(header[field as keyof typeof others]).toBe(1 + Object.keys(others).indexOf(field));
      }
    },
  );

  test.each<[string, string[], RegExp]>([
    ['count missing', ['store', 'product'], /lacks the required column 'count';/],
    ['product and count missing', ['store', 'name', 'amount'], /lacks the required columns 'product', 'count'; found: 'store', 'name', 'amount'/],
    ['an empty first record', [''], /lacks the required columns 'store', 'product', 'count'/],
    ['a near miss of a name', ['store', 'products', 'count'], /lacks the required column 'product'.*accepted names for product: product, product id, sku/],
    ['a column named twice', ['store', 'product', 'count', 'Store '], /names store more than once: 'store' \(column 1\) and 'Store' \(column 4\)/],
    ['threshold named twice', ['threshold', 'store', 'product', 'count', 'THRESHOLD'], /names threshold more than once/],
    ['two names of one field (sku and product)', ['store', 'sku', 'product', 'count'], /names product more than once: 'sku' \(column 2\) and 'product' \(column 3\)/],
    ['three names of one field', ['Qty', 'store', 'product', 'on hand', 'stock'], /names count more than once: 'Qty' \(column 1\), 'on hand' \(column 4\) and 'stock' \(column 5\)/],
  ])('rejects the whole file when %s, with one readable reason', (_name, record, reason) => {
    let error: unknown;
    try {
      parseHeader(record);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UploadRejectedError);
    expect((error as Error).message).toMatch(reason);
    // One sentence, one line: it goes into the upload's report as is.
    expect((error as Error).message).not.toMatch(/\n/);
  });

  test('names the line the header is on', () => {
    expect(() => parseHeader(['store', 'count'], 4)).toThrow(/the header \(line 4\) lacks the required column 'product'/);
  });
});

describe('chooseDelimiter', () => {
  test.each<[string, string, string]>([
    ['commas', 'store,product,count', ','],
    ['semicolons (what Excel writes in much of Europe)', 'Store ID;Product;Qty;Min', ';'],
    ['tabs', 'site\titem\ton hand', '\t'],
    ['pipes', 'store|sku|count|note', '|'],
    ['commas, with a comma inside a quoted extra column', 'store,product,count,"note, free text"', ','],
    ['semicolons, with commas inside names', '"Store, ID";store;product;count', ';'],
    ['pipes, with commas and semicolons in an extra column', 'store|product|count|a,b;c', '|'],
  ])('finds %s', (_name, line, delimiter) => {
    expect(chooseDelimiter(line, 1)).toBe(delimiter);
  });

  test('fails the file when no delimiter splits the header into the required columns, naming the delimiters tried', () => {
    expect(() => chooseDelimiter('store product count', 3)).toThrow(
      /^the header \(line 3\) lacks the required columns 'store', 'product', 'count'; found: 'store product count' splitting on ',' \(delimiters tried: ',', ';', tab, '\|'\) \(accepted names for store: /,
    );
    // The closest split is the one reported.
    expect(() => chooseDelimiter('store;product;amount', 1)).toThrow(/lacks the required column 'count'; found: 'store', 'product', 'amount' splitting on ';' \(delimiters tried: ',', ';', tab, '\|'\)/);
  });

  test('fails the file when more than one delimiter fits, naming them', () => {
    expect(() => chooseDelimiter('store,product,count,x;store;product;count', 1)).toThrow(
      /^the header \(line 1\) splits into the required columns on ',' and ';' alike, so which delimiter separates the fields is ambiguous \(delimiters tried: ',', ';', tab, '\|'\)$/,
    );
  });

  test('a header line with a quote that never closes is not CSV', () => {
    expect(() => chooseDelimiter('"store,product,count', 2)).toThrow(/^the header \(line 2\) is not valid CSV: a quoted field opened on this line is never closed$/);
  });
});

describe('invalidTextReason', () => {
  const header = parseHeader(['Store ID', 'SKU', 'Qty', 'Note']);
  test.each<[number[], string]>([
    [[1], "field 'SKU' (column 2) is not valid UTF-8 (the file must be saved as UTF-8)"],
    [[0, 3], "fields 'Store ID' (column 1) and 'Note' (column 4) are not valid UTF-8 (the file must be saved as UTF-8)"],
    [[5], 'field column 6 is not valid UTF-8 (the file must be saved as UTF-8)'],
  ])('names the fields %j', (fields, reason) => {
    expect(invalidTextReason(header, fields)).toBe(reason);
  });
});

describe('isBlankRecord', () => {
  test.each<[string[], boolean]>([
    [[''], true],
    [['   '], true],
    [[' \t '], true],
    [['', ''], false],
    [['x'], false],
    [[',' /* a lone quoted comma */], false],
  ])('%j → %s', (record, blank) => {
    expect(isBlankRecord(record)).toBe(blank);
  });

  test.each<[string[], string, boolean]>([
    [[' ', '', '  '], '\t', true],
    [['', '', ''], ';', false],
    [['', 'x'], '\t', false],
  ])('%j with the delimiter %j → %s (a line of tabs is blank in a tab-separated file)', (record, delimiter, blank) => {
    expect(isBlankRecord(record, delimiter)).toBe(blank);
  });
});

describe('validateRow', () => {
  const header = parseHeader(['store', 'product', 'count', 'threshold']);
  const line = 17;

  test.each<[string, string[], { store: string; product: string; count: number; threshold: number | null }]>([
    ['a plain row', ['S1', 'Widget', '7', ''], { store: 'S1', product: 'Widget', count: 7, threshold: null }],
    ['every field trimmed', [' S1 ', '\tWidget  ', ' 7 ', ' 3 '], { store: 'S1', product: 'Widget', count: 7, threshold: 3 }],
    ['a zero count and threshold', ['S1', 'Widget', '0', '0'], { store: 'S1', product: 'Widget', count: 0, threshold: 0 }],
    ['leading zeros', ['S1', 'Widget', '007', '010'], { store: 'S1', product: 'Widget', count: 7, threshold: 10 }],
    ['a whitespace-only threshold (not set)', ['S1', 'Widget', '7', '   '], { store: 'S1', product: 'Widget', count: 7, threshold: null }],
    ['the largest exact count', ['S1', 'Widget', String(Number.MAX_SAFE_INTEGER), ''], { store: 'S1', product: 'Widget', count: Number.MAX_SAFE_INTEGER, threshold: null }],
    ['15 and 16 digits', ['S1', 'Widget', '999999999999999', '1000000000000000'], { store: 'S1', product: 'Widget', count: 999999999999999, threshold: 1000000000000000 }],
    ['a product with a comma, quotes and a newline', ['S1', 'Bolt, "M8"\r\n50 mm', '4', ''], { store: 'S1', product: 'Bolt, "M8"\r\n50 mm', count: 4, threshold: null }],
    ['inner whitespace kept', ['Store 12', 'Blue  Widget', '1', ''], { store: 'Store 12', product: 'Blue  Widget', count: 1, threshold: null }],
    ['multibyte names', ['東京', 'Crème brûlée 🙂', '2', '5'], { store: '東京', product: 'Crème brûlée 🙂', count: 2, threshold: 5 }],
  ])('accepts %s', (_name, record, expected) => {
    expect(validateRow(record, header, line)).toEqual({ ...expected, line });
  });

  test.each<[string, string[], string | RegExp]>([
    ['too few fields', ['S1', 'Widget', '7'], 'has 3 fields, the header has 4'],
    ['too many fields', ['S1', 'Widget', '7', '', 'extra'], 'has 5 fields, the header has 4'],
    ['a single field', ['S1'], 'has 1 field, the header has 4'],
    ['an empty store', ['', 'Widget', '7', ''], 'store is empty'],
    ['a whitespace-only store', ['  ', 'Widget', '7', ''], 'store is empty'],
    ['an empty product', ['S1', '', '7', ''], 'product is empty'],
    ['a whitespace-only product', ['S1', ' \r\n ', '7', ''], 'product is empty'],
    ['a negative count', ['S1', 'Widget', '-1', ''], "count '-1' is not a whole number ≥ 0"],
    ['a decimal count', ['S1', 'Widget', '4.5', ''], "count '4.5' is not a whole number ≥ 0"],
    ['a word for a count', ['S1', 'Widget', 'abc', ''], "count 'abc' is not a whole number ≥ 0"],
    ['an empty count', ['S1', 'Widget', '', ''], 'count is empty'],
    ['a whitespace-only count', ['S1', 'Widget', '   ', ''], 'count is empty'],
    ['a count in exponent form', ['S1', 'Widget', '1e3', ''], /^count '1e3' is not a whole number/],
    ['a count with a sign', ['S1', 'Widget', '+5', ''], /^count '\+5' is not a whole number/],
    ['a count with full-width digits', ['S1', 'Widget', '７', ''], /^count '７' is not a whole number/],
    ['a count with inner space', ['S1', 'Widget', '1 000', ''], /^count '1 000' is not a whole number/],
    ['a count with a letter after digits', ['S1', 'Widget', '12a', ''], "count '12a' is not a whole number ≥ 0"],
    ['a count with Arabic-Indic digits', ['S1', 'Widget', '٣', ''], /^count '٣' is not a whole number/],
    ['a count too large to be exact', ['S1', 'Widget', '9007199254740993', ''], "count '9007199254740993' is too large"],
    ['a negative threshold', ['S1', 'Widget', '7', '-2'], "threshold '-2' is not a whole number ≥ 0"],
    ['a decimal threshold', ['S1', 'Widget', '7', '2.5'], "threshold '2.5' is not a whole number ≥ 0"],
    ['a word for a threshold', ['S1', 'Widget', '7', 'ten'], "threshold 'ten' is not a whole number ≥ 0"],
    ['a noncharacter in the product', ['S1', 'Wid\uFFFEget', '7', ''], /U\+FFFE\/U\+FFFF/],
  ])('rejects %s', (_name, record, reason) => {
    const result = validateRow(record, header, line);
    expect(typeof result).toBe('string');
    if (typeof reason === 'string') expect(result).toBe(reason);
    else expect(result).toMatch(reason);
  });

  test('a long bad value is shortened in the reason', () => {
    const result = validateRow(['S1', 'Widget', 'x'.repeat(500), ''], header, line) as string;
    expect(result.length).toBeLessThan(100);
    expect(result).toMatch(/^count 'x+…' is not a whole number/);
  });

  describe('DynamoDB key limits in UTF-8 bytes, not characters', () => {
    const maxStore = settings.csv.maxStoreBytes;
    const maxProduct = settings.csv.maxProductBytes;
    // [name, value]: values built to land exactly on or one byte past the limit.
    const storeCases: [string, string][] = [
      ['ASCII', 'a'.repeat(maxStore)],
      ['2-byte é', 'é'.repeat(maxStore / 2)],
      ['3-byte €', '€'.repeat(Math.floor(maxStore / 3)) + 'a'.repeat(maxStore % 3)],
      ['4-byte 🙂 (surrogate pairs)', '🙂'.repeat(maxStore / 4)],
    ];
    const productCases: [string, string][] = [
      ['ASCII', 'a'.repeat(maxProduct)],
      ['2-byte é', 'é'.repeat(maxProduct / 2)],
      ['3-byte 日', '日'.repeat(Math.floor(maxProduct / 3)) + 'a'.repeat(maxProduct % 3)],
      ['4-byte 🙂 (surrogate pairs)', '🙂'.repeat(maxProduct / 4)],
    ];

    test.each(storeCases)('a store of exactly the limit in %s is accepted, one byte more is not', (_name, atLimit) => {
      expect(utf8(atLimit)).toBe(maxStore);
      expect(validateRow([atLimit, 'Widget', '1', ''], header, line)).toMatchObject({ store: atLimit });
      const over = `${atLimit}a`;
      expect(validateRow([over, 'Widget', '1', ''], header, line)).toBe(
        `store is longer than ${maxStore} bytes (the DynamoDB partition key limit)`,
      );
    });

    test.each(productCases)('a product of exactly the limit in %s is accepted, one byte more is not', (_name, atLimit) => {
      expect(utf8(atLimit)).toBe(maxProduct);
      expect(validateRow(['S1', atLimit, '1', ''], header, line)).toMatchObject({ product: atLimit });
      const over = `${atLimit}a`;
      expect(validateRow(['S1', over, '1', ''], header, line)).toBe(
        `product is longer than ${maxProduct} bytes (the DynamoDB sort key limit)`,
      );
    });

    test('one multibyte character replacing an ASCII one tips a product over the limit', () => {
      const product = `${'a'.repeat(maxProduct - 1)}é`;
      expect(utf8(product)).toBe(maxProduct + 1);
      expect(validateRow(['S1', product, '1', ''], header, line)).toMatch(/^product is longer than/);
    });

    test('the limit applies after trimming', () => {
      const product = 'a'.repeat(maxProduct);
      expect(validateRow(['S1', `  ${product}  `, '1', ''], header, line)).toMatchObject({ product });
    });
  });

  test('columns are found where the header put them, other columns ignored', () => {
    const reordered = parseHeader(['Note', 'COUNT', ' product', 'store ']);
    expect(validateRow(['anything, "at all"', ' 5', 'Widget', 'S9'], reordered, 3)).toEqual({
      store: 'S9',
      product: 'Widget',
      count: 5,
      threshold: null,
      line: 3,
    });
  });

  test('without a threshold column the row sets no threshold', () => {
    const noThreshold = parseHeader(['store', 'product', 'count']);
    expect(validateRow(['S1', 'Widget', '3'], noThreshold, 2)).toEqual({ store: 'S1', product: 'Widget', count: 3, threshold: null, line: 2 });
  });
});

describe('store-scoped uploads (the key names the store)', () => {
  const scope: StoreScope = { store: 'S0012', prefix: 'uploads/S0012/' };
  const line = 9;

  test('the header may leave the store column out: product and count are what it needs', () => {
    expect(parseHeader(['SKU', 'qty', 'min'], 1, scope)).toEqual({ columns: 3, names: ['SKU', 'qty', 'min'], store: -1, product: 0, count: 1, threshold: 2, scope });
    expect(() => parseHeader(['store', 'qty'], 1, scope)).toThrow(/lacks the required column 'product';/);
    // Without a scope the store column is as required as ever.
    expect(() => parseHeader(['product', 'count'])).toThrow(/lacks the required column 'store';/);
  });

  test('a store column is found as usual', () => {
    expect(parseHeader(['Store ID', 'product', 'count'], 1, scope)).toMatchObject({ store: 0, product: 1, count: 2, scope });
  });

  test('the delimiter is chosen from the columns such a header needs', () => {
    expect(chooseDelimiter('product;count', 1, true)).toBe(';');
    expect(() => chooseDelimiter('product;count', 1)).toThrow(/lacks the required column 'store'/);
  });

  test('without a store column every row is the key’s store', () => {
    const header = parseHeader(['product', 'count'], 1, scope);
    expect(validateRow(['Widget', '7'], header, line)).toEqual({ store: 'S0012', product: 'Widget', count: 7, threshold: null, line });
    expect(validateRow(['', '7'], header, line)).toBe('product is empty');
  });

  test('with a store column each row must be for the key’s store (after trimming)', () => {
    const header = parseHeader(['store', 'product', 'count'], 1, scope);
    expect(validateRow([' S0012 ', 'Widget', '7'], header, line)).toEqual({ store: 'S0012', product: 'Widget', count: 7, threshold: null, line });
    expect(validateRow(['S0040', 'Widget', '7'], header, line)).toBe(
      "the row is for store 'S0040', but this upload (under uploads/S0012/) may only hold rows for store 'S0012'",
    );
    // Exactly: neither case nor leading zeros make another store this one.
    expect(validateRow(['s0012', 'Widget', '7'], header, line)).toMatch(/^the row is for store 's0012', but .* store 'S0012'$/);
    expect(validateRow(['S012', 'Widget', '7'], header, line)).toMatch(/^the row is for store 'S012'/);
    expect(validateRow(['', 'Widget', '7'], header, line)).toBe('store is empty');
  });
});
