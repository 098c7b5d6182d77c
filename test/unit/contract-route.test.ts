// The route's maintenance fields as the contract parses them (the router's PUT /v1/apps/:app).
import { pageUrlProblem, parseAppRoute, ValidationError } from "@dynoform/contract";

test("maintenance and its page URL are kept; off leaves no field", () => {
    expect(parseAppRoute("shop", { domains: [], maintenance: true, maintenancePageUrl: "https://x.example/m.html?a=1&b=2" })).toMatchObject({
        maintenance: true,
        maintenancePageUrl: "https://x.example/m.html?a=1&b=2",
    });
    const off = parseAppRoute("shop", { maintenance: false });
    expect("maintenance" in off).toBe(false);
    expect("maintenancePageUrl" in off).toBe(false);
});

test.each([["yes"], [1], [null]])("maintenance %p is refused", (v) => {
    expect(() => parseAppRoute("shop", { maintenance: v })).toThrow(new ValidationError("maintenance must be a boolean"));
});

test.each([["javascript:alert(1)"], ["ftp://x.example/"], ['https://x.example/"onload="x'], ["https://x.example/<b>"], ["https://x.example/a b"], ["not a url"], [`https://x.example/${"a".repeat(2048)}`]])(
    "page URL %p is refused with the fix",
    (url) => {
        expect(pageUrlProblem(url)).toMatch(/^MAINTENANCE_PAGE_URL must be an http\(s\) URL of at most 2048 characters .* e\.g\. https:\/\/example\.com\/maintenance\.html$/);
        expect(() => parseAppRoute("shop", { maintenancePageUrl: url })).toThrow(ValidationError);
    },
);

test("a page URL that is not a string is refused", () => {
    expect(() => parseAppRoute("shop", { maintenancePageUrl: 7 })).toThrow(ValidationError);
});
